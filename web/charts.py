"""Server-side charts: requests by outcome over time, as stacked bars for an inline SVG.

The geometry is computed here; the template only draws rectangles and text,
so everything in the picture goes through Jinja's escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

WIDTH, HEIGHT, MARGIN = 720, 220, 30
COLOURS = {"allowed": "#2e7d32", "rate_limited": "#f9a825", "quota_exceeded": "#ef6c00"}
OTHER_COLOUR = "#c62828"  # every refusal reason
SPANS = {"hour": (timedelta(hours=1), 48), "day": (timedelta(days=1), 30)}


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[dict] = field(default_factory=list)
    legend: list[tuple[str, str, int]] = field(default_factory=list)
    peak: int = 0
    first: str = ""
    last: str = ""


def buckets(granularity: str, *, now: datetime | None = None) -> list[str]:
    """The labels ``usage_report`` uses, for the last 48 hours or 30 days, oldest first."""
    step, count = SPANS[granularity]
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return [(now - step * i).date().isoformat() for i in reversed(range(count))]
    return [(now - step * i).isoformat() for i in reversed(range(count))]


def outcome_chart(rows: list[dict], *, labels: list[str]) -> Chart:
    """Stack each bucket's counts by outcome; bars scale to the busiest bucket."""
    per_bucket: dict[str, dict[str, int]] = {label: {} for label in labels}
    totals: dict[str, int] = {}
    for row in rows:
        if row["bucket"] in per_bucket:
            per_bucket[row["bucket"]][row["outcome"]] = row["count"]
            totals[row["outcome"]] = totals.get(row["outcome"], 0) + row["count"]
    peak = max((sum(counts.values()) for counts in per_bucket.values()), default=0)
    slot = (WIDTH - 2 * MARGIN) / max(1, len(labels))
    bars = [
        rect
        for index, label in enumerate(labels)
        for rect in _stack(
            per_bucket[label], x=MARGIN + index * slot, width=slot * 0.8, peak=peak, label=label
        )
    ]
    legend = [(outcome, colour_of(outcome), count) for outcome, count in sorted(totals.items())]
    return Chart(
        bars=bars,
        legend=legend,
        peak=peak,
        first=short_label(labels[0]) if labels else "",
        last=short_label(labels[-1]) if labels else "",
    )


def short_label(label: str) -> str:
    """``2026-11-23T19:00:00+00:00`` -> ``2026-11-23 19:00 UTC``; days stay as they are."""
    return f"{label[:10]} {label[11:16]} UTC" if "T" in label else label


def colour_of(outcome: str) -> str:
    return COLOURS.get(outcome, OTHER_COLOUR)


def _stack(counts: dict[str, int], *, x: float, width: float, peak: int, label: str):
    bottom = HEIGHT - MARGIN
    scale = (HEIGHT - 2 * MARGIN) / peak if peak else 0
    for outcome, count in sorted(counts.items()):
        height = count * scale
        bottom -= height
        yield {
            "x": round(x, 1),
            "y": round(bottom, 1),
            "width": round(width, 1),
            "height": round(height, 1),
            "colour": colour_of(outcome),
            "title": f"{short_label(label)}: {count} {outcome}",
        }

"""The usage chart's geometry: stacked by outcome, scaled to the busiest bucket."""

from datetime import UTC, datetime

from web.charts import HEIGHT, MARGIN, buckets, outcome_chart


def test_buckets_use_the_labels_of_the_usage_report():
    now = datetime(2026, 11, 23, 19, 42, tzinfo=UTC)
    hours = buckets("hour", now=now)
    assert (len(hours), hours[-1]) == (48, "2026-11-23T19:00:00+00:00")
    days = buckets("day", now=now)
    assert (len(days), days[0], days[-1]) == (30, "2026-10-25", "2026-11-23")


def test_bars_stack_by_outcome_and_the_busiest_bucket_fills_the_height():
    labels = ["2026-11-22", "2026-11-23"]
    rows = [
        {"bucket": "2026-11-22", "outcome": "allowed", "count": 2},
        {"bucket": "2026-11-23", "outcome": "allowed", "count": 3},
        {"bucket": "2026-11-23", "outcome": "revoked", "count": 1},
        {"bucket": "2026-01-01", "outcome": "allowed", "count": 99},  # outside the window
    ]
    chart = outcome_chart(rows, labels=labels)
    assert chart.peak == 4
    assert chart.legend == [("allowed", "#2e7d32", 5), ("revoked", "#c62828", 1)]
    last_day = [bar for bar in chart.bars if bar["title"].startswith("2026-11-23")]
    assert sum(bar["height"] for bar in last_day) == HEIGHT - 2 * MARGIN
    assert min(bar["y"] for bar in last_day) == MARGIN


def test_no_requests_draw_no_bars():
    chart = outcome_chart([], labels=buckets("hour"))
    assert (chart.peak, chart.bars, chart.legend) == (0, [], [])

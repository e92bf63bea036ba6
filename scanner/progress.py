"""A progress bar on stderr for long history scans, only when stderr is a terminal.

Nothing is drawn for the first second, so short scans and pipelines stay quiet.  The
line shows the rate (objects per second since the start) and the time left at that rate.
"""

from __future__ import annotations

import sys
import time

DELAY = 1.0
INTERVAL = 0.2
WIDTH = 30


class Progress:
    """Receives ``start(total)`` and ``advance(count)`` from a scan and redraws a bar."""

    def __init__(self, stream=None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = 0
        self.done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._shown = False

    def start(self, total: int) -> None:
        """The number of objects the scan will read; the clock for the delay starts now."""
        self.total = total
        self._started = time.monotonic()

    def advance(self, count: int) -> None:
        """``count`` more objects read; redraw at most every INTERVAL seconds."""
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._started > DELAY and now - self._drawn_at > INTERVAL:
            self._drawn_at = now
            self._draw()

    def close(self) -> None:
        """Erase the bar so the report starts on a clean line."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self) -> None:
        self.stream.write("\r" + self.line(time.monotonic() - self._started) + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def line(self, elapsed: float) -> str:
        """``scanning history [###---]  40% 12,000 objects 8,000/s ETA 0:02``."""
        fraction = min(1.0, self.done / self.total) if self.total else 0.0
        filled = int(fraction * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"scanning history [{bar}] {fraction:4.0%} {self.done:,} objects {rate:,.0f}/s"
        if rate > 0 and self.total > self.done:
            text += f" ETA {clock((self.total - self.done) / rate)}"
        return text


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for an estimate."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

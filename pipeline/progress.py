"""A plain-text progress bar with ETA on stderr for long replays (no dependency).

On a terminal it redraws one line (`\\r`); into a file or pipe it prints a full line every `log_every_s`, so logs of
batch replays stay readable. The rate is measured over the frames processed by *this* run (a resumed replay
skips its first frames quickly, which would otherwise make the ETA look far too short).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


def format_eta(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def render(done: int, total: int, rate_fps: float) -> str:
    """One progress line, e.g. `[######......] 45%  170/377 frames  12.3 fps  ETA 0:00:17`."""
    if total > 0:
        fraction = min(1.0, done / total)
        filled = round(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        eta = format_eta((total - done) / rate_fps) if rate_fps > 0 else "?"
        return f"[{bar}] {fraction * 100:3.0f}%  {done}/{total} frames  {rate_fps:.1f} fps  ETA {eta}"
    return f"{done} frames  {rate_fps:.1f} fps"  # unknown length (e.g. a stream-like container)


class ProgressBar:
    def __init__(self, position: Callable[[], int], total: int, *, stream: TextIO | None = None,
                 interval_s: float = 0.5, log_every_s: float = 10.0) -> None:
        self.position, self.total = position, total
        self.stream = stream or sys.stderr
        self.interval_s, self.log_every_s = interval_s, log_every_s
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lez-progress", daemon=True)
        self._start_pos = 0
        self._start_t = 0.0

    def __enter__(self) -> ProgressBar:
        self._start_pos, self._start_t = self.position(), time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._draw(final=True)

    def _rate(self) -> float:
        elapsed = time.monotonic() - self._start_t
        return (self.position() - self._start_pos) / elapsed if elapsed > 0 else 0.0

    def _draw(self, final: bool = False) -> None:
        line = render(self.position(), self.total, self._rate())
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write("replay " + line + "\n")
        self.stream.flush()

    def _run(self) -> None:
        last_log = time.monotonic()
        while not self._stop.wait(self.interval_s):
            now = time.monotonic()
            if self.tty or now - last_log >= self.log_every_s:
                self._draw()
                last_log = now

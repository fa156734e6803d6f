"""Graceful shutdown on SIGTERM/SIGINT: the first signal asks the pipeline to stop (sources stop, queues drain,
the outbox is flushed within `runtime.flush_timeout_s`); a second SIGINT or SIGTERM exits at once (exit 130).

Rows not yet delivered at a forced exit are safe: they are in the durable outbox and the next start sends them.
Handlers are installed only on the main thread (Python delivers signals there) and restored on exit.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

EXIT_FORCED = 130
HANDLED = (signal.SIGTERM, signal.SIGINT)


class ShutdownSignals:
    def __init__(self, on_stop: Callable[[], None], *, force_exit: Callable[[int], Any] = os._exit) -> None:
        self.on_stop = on_stop
        self.force_exit = force_exit
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ShutdownSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in HANDLED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            # os.write: no locks, safe even if the main thread was interrupted inside a print
            os.write(2, f"lez-anpr: second {name}: exiting now; undelivered messages stay in the outbox\n".encode())
            self.force_exit(EXIT_FORCED)
            return
        self.received = name
        os.write(2, f"lez-anpr: {name}: stopping (draining and flushing; {name} again to exit now)\n".encode())
        self.on_stop()

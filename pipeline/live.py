"""Live cameras (RTSP/HTTP through OpenCV/FFmpeg): reconnection with backoff under a restart budget, and a frame
deadline that catches a read that hangs.

Why a reader thread per capture: ``cv2.VideoCapture.read()`` can block far longer than FFmpeg's read timeout (a
camera that keeps the TCP connection open but sends nothing, a half-dead RTSP session). Each capture is opened and
read on its own short-lived daemon thread that hands frames over a one-slot queue; the camera's capture thread waits
on that queue with the deadline. When the deadline passes, the capture is abandoned (its thread releases it when
its read finally returns, and exits) and a new one is built. Nothing ever waits on a hung read without a timeout.

Restart budget: at most ``restart_budget`` reconnects within ``restart_window_s``. When it is spent the source
ends with a reason (the run is reported incomplete and exits non-zero, so a supervisor such as systemd restarts
the box's service with its own, slower, policy) instead of hammering a dead camera forever.

Sequence numbers continue across reconnects (a reconnect is never a new clip), and event time is the arrival time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.sources import Frame, SourceStats

log = logging.getLogger(__name__)

POLL_S = 0.2


class Capture(Protocol):
    """The part of cv2.VideoCapture a live source uses (tests inject faulty ones)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, npt.NDArray[np.uint8] | None]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class StreamSettings:
    open_timeout_s: float = 5.0
    frame_deadline_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    restart_budget: int = 30
    restart_window_s: float = 600.0


def open_ffmpeg(url: str, settings: StreamSettings) -> Capture:
    timeout_ms = int(settings.open_timeout_s * 1000)
    # FFmpeg's own read timeout is a backstop at twice the deadline: the deadline acts first and rebuilds the
    # capture; FFmpeg's timeout then ends the abandoned read, so its thread releases the capture and exits.
    read_ms = int(settings.frame_deadline_s * 2000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms]
    cap: Capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    return cap


_Item = tuple[bool, "npt.NDArray[np.uint8] | None"]


class _Reader:
    """One capture, opened and read on its own thread; `abandon()` lets a hung one go without waiting for it."""

    def __init__(self, open_capture: Callable[[], Capture], name: str) -> None:
        self._open_capture = open_capture
        self.slot: queue.Queue[_Item] = queue.Queue(maxsize=1)
        self.declared_fps = 0.0
        self._abandoned = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def abandon(self) -> None:
        self._abandoned.set()

    def _run(self) -> None:
        cap: Capture | None = None
        try:
            cap = self._open_capture()
            if not cap.isOpened():
                self._hand_over((False, None))
                return
            self.declared_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            while not self._abandoned.is_set():
                ok, image = cap.read()
                if not self._hand_over((ok and image is not None, image)) or not ok:
                    return
        except Exception:  # an exception in OpenCV/FFmpeg is a broken stream, reported as a failed read
            log.debug("capture thread failed", exc_info=True)
            self._hand_over((False, None))
        finally:
            if cap is not None:
                cap.release()

    def _hand_over(self, item: _Item) -> bool:
        while not self._abandoned.is_set():
            try:
                self.slot.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False


class StreamSource:
    """A live camera. `live = True`: the pipeline drops the oldest frames (counted) rather than fall behind."""

    live = True

    def __init__(self, url: str, camera_id: str, settings: StreamSettings | None = None,
                 open_capture: Callable[[str, StreamSettings], Capture] = open_ffmpeg) -> None:
        self.url, self.camera_id = url, camera_id
        self.settings = settings or StreamSettings()
        self._open_capture = open_capture
        self.stats = SourceStats(camera_id, live=True, declared_fps=0.0)
        self.stopped_early_reason = ""
        self.decode_errors = 0  # failed reads (a broken or ended stream), mirrored in stats
        self._stop = threading.Event()
        self._restarts: deque[float] = deque()
        self._name = url.split("@")[-1]  # never the credentials of an rtsp://user:pass@host URL

    @property
    def reconnects(self) -> int:
        return self.stats.reconnects

    def stop(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame]:
        seq, backoff = 0, self.settings.backoff_initial_s
        first = True
        while not self._stop.is_set():
            if not first and not self._may_restart():
                return
            first = False
            reader = _Reader(lambda: self._open_capture(self.url, self.settings), f"lez-read-{self.camera_id}")
            delivered_before = self.stats.frames
            try:
                for image in self._read_all(reader):
                    if self.stats.frames == delivered_before:
                        backoff = self.settings.backoff_initial_s  # the stream works again
                        self.stats.declared_fps = reader.declared_fps or self.stats.declared_fps
                    self.stats.frame_delivered()
                    yield Frame(self.camera_id, seq, datetime.now(UTC), image, self._name)
                    seq += 1
            finally:
                reader.abandon()
                reader.thread.join(timeout=0.1)  # a hung read is left to finish on its own (daemon)
            if self._stop.is_set():
                break
            self.stats.state = "reconnecting"
            log.warning("camera %s: stream lost, reconnecting in %.1f s", self.camera_id, backoff)
            self._stop.wait(backoff)
            backoff = min(self.settings.backoff_max_s, backoff * 2)
        self.stats.state = "ended"

    def _read_all(self, reader: _Reader) -> Iterator[npt.NDArray[np.uint8]]:
        """Frames of one capture until it fails, hangs past the deadline, or the source is stopped."""
        deadline_s = self.settings.open_timeout_s + self.settings.frame_deadline_s  # the first read also opens
        while not self._stop.is_set():
            waited = 0.0
            while True:
                try:
                    ok, image = reader.slot.get(timeout=POLL_S)
                    break
                except queue.Empty:
                    waited += POLL_S
                    if self._stop.is_set():
                        return
                    if waited >= deadline_s:
                        self.stats.deadline_misses += 1
                        log.warning("camera %s: no frame for %.1f s (deadline): rebuilding the capture",
                                    self.camera_id, waited)
                        return
            if not ok or image is None:
                self.stats.decode_errors += 1
                self.decode_errors = self.stats.decode_errors
                return
            yield image
            deadline_s = self.settings.frame_deadline_s

    def _may_restart(self) -> bool:
        now = time.monotonic()
        window = self.settings.restart_window_s
        while self._restarts and now - self._restarts[0] > window:
            self._restarts.popleft()
        if len(self._restarts) >= self.settings.restart_budget:
            self.stopped_early_reason = (f"restart budget spent: {len(self._restarts)} reconnects within "
                                         f"{window:g} s (camera unreachable or broken)")
            log.error("camera %s: %s", self.camera_id, self.stopped_early_reason)
            self.stats.state = "ended"
            return False
        self._restarts.append(now)
        self.stats.reconnects += 1
        return True

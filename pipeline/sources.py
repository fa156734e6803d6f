"""Frame sources: a video file, a folder of images, or a live RTSP/HTTP stream, all through OpenCV.

Files and folders are *replays*: read once, start to end, never reopened (a reopen would restart at frame 0 and
publish every passage again). Only live streams (`pipeline.live`) reconnect and have a frame deadline.

Every frame carries its camera id, a sequence number and its **event time**, set once here and never again:
- video files: the container timestamp of the frame (CAP_PROP_POS_MSEC) added to the configured start time, so
  a replay is stamped with footage time, not with the time it was processed;
- image folders: the configured start time plus `index / fps` (files in name order);
- live streams: the stream timestamp when the camera provides one, mapped to UTC at the first frame, else the
  arrival time (a live camera's frames are "now").
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.addresses import STREAM_SCHEMES
from pipeline.stills import StillError, load_still

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message says which and why, in one line."""


@dataclass(frozen=True)
class Frame:
    camera_id: str
    seq: int
    event_time: datetime  # capture time, timezone-aware UTC
    image: npt.NDArray[np.uint8]
    source_name: str = ""

    def __post_init__(self) -> None:
        if self.event_time.tzinfo is None:
            raise ValueError("event_time must be timezone-aware")
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"frame image must be HxWx3 BGR, got shape {self.image.shape}")


class SourceStats:
    """What a camera's health report says about its source; updated by the capture thread, read by others.

    Plain attribute writes (atomic in CPython) and a bounded deque of arrival times: no lock on the frame path."""

    FPS_WINDOW_S = 10.0

    def __init__(self, camera_id: str, *, live: bool, declared_fps: float) -> None:
        self.camera_id, self.live, self.declared_fps = camera_id, live, declared_fps
        self.frames = 0
        self.reconnects = 0
        self.decode_errors = 0
        self.deadline_misses = 0
        self.state = "starting"
        self.last_frame_monotonic: float | None = None
        self._arrivals: deque[float] = deque(maxlen=2048)

    def frame_delivered(self) -> None:
        now = time.monotonic()
        self.frames += 1
        self.last_frame_monotonic = now
        self._arrivals.append(now)
        self.state = "streaming"

    def snapshot(self, now: float | None = None) -> SourceHealth:
        now = time.monotonic() if now is None else now
        last = self.last_frame_monotonic
        recent = [t for t in list(self._arrivals) if now - t <= self.FPS_WINDOW_S]
        return SourceHealth(
            camera_id=self.camera_id, live=self.live, state=self.state, frames=self.frames,
            last_frame_age_s=None if last is None else max(0.0, now - last),
            delivered_fps=len(recent) / self.FPS_WINDOW_S, declared_fps=self.declared_fps,
            reconnects=self.reconnects, decode_errors=self.decode_errors, deadline_misses=self.deadline_misses)


@dataclass(frozen=True)
class SourceHealth:
    camera_id: str
    live: bool
    state: str  # starting | streaming | reconnecting | ended
    frames: int
    last_frame_age_s: float | None  # None before the first frame
    delivered_fps: float  # over the last SourceStats.FPS_WINDOW_S seconds
    declared_fps: float
    reconnects: int
    decode_errors: int
    deadline_misses: int


def is_stream_url(source: str) -> bool:
    return source.split("://", 1)[0].lower() in STREAM_SCHEMES


class VideoFileSource:
    """Decodes a video file; `live = False`: the pipeline blocks instead of dropping, for lossless replays."""

    live = False

    def __init__(self, path: Path, camera_id: str, start_time: datetime, max_decode_errors: int = 25) -> None:
        if not path.exists():
            raise SourceError(f"video file not found: {path}")
        if path.is_file() and path.stat().st_size == 0:
            raise SourceError(f"video file is empty (0 bytes): {path}")
        self.path, self.camera_id, self.start_time = path, camera_id, start_time.astimezone(UTC)
        self.max_decode_errors = max_decode_errors
        self.decode_errors = 0
        self.stopped_early_reason = ""
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SourceError(f"cannot open video (corrupt or unsupported codec): {path}")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 25.0
        self.declared_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.stats = SourceStats(camera_id, live=False, declared_fps=self.fps)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"video has no decodable frame (corrupt or unsupported codec): {path}")
        self._pending: npt.NDArray[np.uint8] | None = first
        self._pending_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))

    def frames(self) -> Iterator[Frame]:
        seq = 0
        last_ms = -1.0
        try:
            while True:
                if self._pending is not None:
                    image, pos_ms, self._pending = self._pending, self._pending_ms, None
                else:
                    ok, grabbed = self._cap.read()
                    if not ok or grabbed is None:
                        if self._more_frames_expected(seq):
                            continue
                        self.stats.state = "ended"  # the end of the file (not a stop)
                        break
                    image, pos_ms = grabbed, float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
                # Some containers report 0 for every frame; fall back to the frame index at the declared fps.
                if pos_ms <= last_ms:
                    pos_ms = max(seq * 1000.0 / self.fps, last_ms + 1000.0 / self.fps)
                last_ms = pos_ms
                self.stats.frame_delivered()
                yield Frame(self.camera_id, seq, self.start_time + timedelta(milliseconds=pos_ms), image,
                            self.path.name)
                seq += 1
        finally:
            self._cap.release()

    def close(self) -> None:
        """Release the decoder without reading on (`frames()` releases it itself when it ends)."""
        self._cap.release()

    def _more_frames_expected(self, seq: int) -> bool:
        """A failed read before the declared end is a decode error: skip it (counted) unless too many in a row."""
        if self.declared_frames <= 0 or seq >= self.declared_frames - 1:
            return False
        self.decode_errors += 1
        self.stats.decode_errors = self.decode_errors
        if self.decode_errors > self.max_decode_errors:
            self.stopped_early_reason = (f"stopped after {self.decode_errors} decode errors at frame {seq} "
                                         f"of {self.declared_frames} declared (truncated or corrupt file)")
            log.warning("%s: %s", self.path.name, self.stopped_early_reason)
            return False
        return True


def video_file_problem(path: Path) -> str | None:
    """Why the file at `path` cannot be played as a camera's recording (None: its first frame decodes): the
    check `VideoFileSource` makes, for a config checker that must refuse what `run` would refuse."""
    try:
        VideoFileSource(path, "probe", datetime.now(UTC)).close()
    except SourceError as exc:
        return str(exc)
    return None


class ImageFolderSource:
    """A folder of still images in name order; event time = start + index / fps."""

    live = False

    def __init__(self, folder: Path, camera_id: str, start_time: datetime, fps: float = 1.0) -> None:
        if not folder.is_dir():
            raise SourceError(f"image folder not found: {folder}")
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder: {folder}")
        self.camera_id, self.start_time, self.fps = camera_id, start_time.astimezone(UTC), fps
        self.stats = SourceStats(camera_id, live=False, declared_fps=fps)
        self.decode_errors = 0
        self.stopped_early_reason = ""

    def frames(self) -> Iterator[Frame]:
        for seq, path in enumerate(self.files):
            try:
                image = load_still(path)
            except StillError as exc:
                self.decode_errors += 1
                self.stats.decode_errors = self.decode_errors
                log.warning("skipping image %s: %s", path.name, exc)
                continue
            self.stats.frame_delivered()
            yield Frame(self.camera_id, seq, self.start_time + timedelta(seconds=seq / self.fps), image, path.name)
        if self.decode_errors:
            # Every readable image was processed, but the footage was not all there: the run says so (exit 6).
            self.stopped_early_reason = (f"{self.decode_errors} of {len(self.files)} image(s) could not be decoded "
                                         "(skipped)")
        self.stats.state = "ended"




"""Frame sources: a video file, a folder of images, or a live RTSP/HTTP stream, all through OpenCV.

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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

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


def is_stream_url(source: str) -> bool:
    return source.split("://", 1)[0].lower() in {"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"}


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
                        break
                    image, pos_ms = grabbed, float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
                # Some containers report 0 for every frame; fall back to the frame index at the declared fps.
                if pos_ms <= last_ms:
                    pos_ms = max(seq * 1000.0 / self.fps, last_ms + 1000.0 / self.fps)
                last_ms = pos_ms
                yield Frame(self.camera_id, seq, self.start_time + timedelta(milliseconds=pos_ms), image,
                            self.path.name)
                seq += 1
        finally:
            self._cap.release()

    def _more_frames_expected(self, seq: int) -> bool:
        """A failed read before the declared end is a decode error: skip it (counted) unless too many in a row."""
        if self.declared_frames <= 0 or seq >= self.declared_frames - 1:
            return False
        self.decode_errors += 1
        if self.decode_errors > self.max_decode_errors:
            self.stopped_early_reason = (f"stopped after {self.decode_errors} decode errors at frame {seq} "
                                         f"of {self.declared_frames} declared (truncated or corrupt file)")
            log.warning("%s: %s", self.path.name, self.stopped_early_reason)
            return False
        return True


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
        self.decode_errors = 0
        self.stopped_early_reason = ""

    def frames(self) -> Iterator[Frame]:
        for seq, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.decode_errors += 1
                log.warning("skipping unreadable image %s", path.name)
                continue
            yield Frame(self.camera_id, seq, self.start_time + timedelta(seconds=seq / self.fps), image, path.name)


class StreamSource:
    """A live camera through OpenCV/FFmpeg, reconnecting with backoff when the stream drops.

    `live = True`: the pipeline drops the oldest frames (counted) rather than fall behind the camera.
    """

    live = True

    def __init__(self, url: str, camera_id: str, reconnect_backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 max_reconnects: int | None = None, open_timeout_ms: int = 5000, read_timeout_ms: int = 5000) -> None:
        self.url, self.camera_id = url, camera_id
        self.backoff_s, self.max_backoff_s, self.max_reconnects = reconnect_backoff_s, max_backoff_s, max_reconnects
        self.open_timeout_ms, self.read_timeout_ms = open_timeout_ms, read_timeout_ms
        self.reconnects = 0
        self.decode_errors = 0
        self.stopped_early_reason = ""
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    def _open(self) -> cv2.VideoCapture:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.open_timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                  self.read_timeout_ms]
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

    def frames(self) -> Iterator[Frame]:
        seq, backoff = 0, self.backoff_s
        while not self._stop:
            cap = self._open()
            if not cap.isOpened():
                cap.release()
                if self.max_reconnects is not None and self.reconnects >= self.max_reconnects:
                    self.stopped_early_reason = f"camera unreachable after {self.reconnects} reconnects"
                    return
                self.reconnects += 1
                log.warning("camera %s: cannot open stream, retrying in %.1f s", self.camera_id, backoff)
                time.sleep(backoff)
                backoff = min(self.max_backoff_s, backoff * 2)
                continue
            backoff = self.backoff_s
            try:
                while not self._stop:
                    ok, image = cap.read()
                    if not ok or image is None:
                        self.decode_errors += 1
                        break
                    yield Frame(self.camera_id, seq, datetime.now(UTC), image, self.url.split("@")[-1])
                    seq += 1
            finally:
                cap.release()
            self.reconnects += 1

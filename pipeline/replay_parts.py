"""Pieces of an audit replay that wrap the ordinary pipeline: the resuming source, the gate in front of the sinks,
and the checkpoint writer called at idle points. `pipeline.replay` wires them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from pipeline import replay_checkpoint as cp
from pipeline.metrics import Counters
from pipeline.runtime import FrameSource, IdlePoint
from pipeline.sources import Frame
from sinks.base import Sink

log = logging.getLogger(__name__)


class ResumingSource:
    """A recorded source that hands the pipeline only frames from `start_seq` on.

    Earlier frames are still decoded (not detected): seeking by frame index is inexact in many containers, and
    decoding from the start keeps every frame's sequence number and container timestamp exactly as in an
    uninterrupted replay. Records how far decoding got, for the progress bar and for "where it stopped"."""

    live = False  # a replay never drops frames: the capture thread blocks when the detector falls behind

    def __init__(self, inner: FrameSource, start_seq: int = 0) -> None:
        if inner.live:
            raise ValueError("a replay needs a recorded source (file or image folder), not a live stream")
        self.inner, self.camera_id, self.start_seq = inner, inner.camera_id, start_seq
        self.decode_errors, self.stopped_early_reason = 0, ""
        self.position = 0  # frames decoded so far (the next frame's sequence number)
        self.last_event_time: datetime | None = None
        files = getattr(inner, "files", None)
        self.total_frames = int(getattr(inner, "declared_frames", 0) or (len(files) if files is not None else 0))
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    def frames(self) -> Iterator[Frame]:
        try:
            for frame in self.inner.frames():
                self.position, self.last_event_time = frame.seq + 1, frame.event_time
                self.decode_errors = self.inner.decode_errors
                if self._stop:
                    return
                if frame.seq >= self.start_seq:
                    yield frame
        finally:
            self.decode_errors = self.inner.decode_errors
            self.stopped_early_reason = self.inner.stopped_early_reason


class GateSink:
    """Passes messages through until `close_gate()` (an interruption): the passages the pipeline flushes while it
    stops are cut short, would carry the ids of the real ones and must not reach a topic; the resumed run emits
    them whole."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.closed = threading.Event()
        self.held_back = 0

    def close_gate(self) -> None:
        self.closed.set()

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None:
        if self.closed.is_set():
            self.held_back += 1
            return
        self.inner.publish(topic, key, message)

    def flush(self, timeout_s: float) -> bool:
        return self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()


class Checkpointer:
    """Called on the reader thread at idle points: fsync the message files, then record their sizes and where to
    continue. At most one checkpoint every `every_s` seconds (each costs an fsync)."""

    def __init__(self, path: Path, messages_dir: Path, base: cp.Checkpoint, sink: Sink, gate: GateSink,
                 counters: Counters, every_s: float) -> None:
        self.path, self.messages_dir, self.base = path, messages_dir, base
        self.sink, self.gate, self.counters, self.every_s = sink, gate, counters, every_s
        self.last: cp.Checkpoint = base
        self._last_t = time.monotonic()

    def __call__(self, point: IdlePoint) -> None:
        # After an interruption the gate holds passages back: positions past that point are not safe to record.
        if self.gate.closed.is_set() or point.next_seq <= self.last.next_seq:
            return
        now = time.monotonic()
        if now - self._last_t < self.every_s:
            return
        self._last_t = now
        self.sink.flush(0.0)
        self.last = cp.Checkpoint(
            identity=self.base.identity, next_seq=point.next_seq, next_track_id=point.next_track_id,
            message_bytes=cp.message_sizes(self.messages_dir),
            dropped_frames=self.base.dropped_frames + int(self.counters.get("dropped_frames")), runs=self.base.runs)
        cp.save(self.path, self.last)
        log.debug("checkpoint: continue at frame %d, track %d", point.next_seq, point.next_track_id)

"""Threads and bounded queues: capture[camera] → detect (batched across cameras) → track → read + decide + emit.

- Live sources drop the *oldest* queued frame when the detector falls behind (counted per camera and stage);
  file and folder sources block instead, so a replay is lossless and gives the same answer every time.
- One stop event. Every queue get/put and every join has a timeout. A worker that dies marks the pipeline FAILED
  and starts the shutdown: nothing dies silently. Stop order: sources → drain → the caller flushes the sinks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Protocol, TypeVar

from detectors.base import PlateDetector, VehicleDetector
from pipeline.metrics import Counters
from pipeline.passages import PassageBuilder, PassageResult
from pipeline.sources import Frame
from pipeline.tracking import Subject, Track, Tracker, associate

log = logging.getLogger(__name__)

POLL_S = 0.2
T = TypeVar("T")


class Status(str, Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class FrameSource(Protocol):
    camera_id: str
    live: bool
    decode_errors: int
    stopped_early_reason: str

    def frames(self) -> Iterator[Frame]: ...


@dataclass(frozen=True)
class SourceEnd:
    camera_id: str


@dataclass(frozen=True)
class IdlePoint:
    """A camera's tracker holds no open track after frame `next_seq - 1`, and every passage before it has been
    emitted (the marker travels behind them on the reader's queue): processing from `next_seq` with a fresh tracker
    numbering from `next_track_id` gives the same passages as continuing. Replays checkpoint here."""

    camera_id: str
    next_seq: int
    next_track_id: int


@dataclass(frozen=True)
class DetectedFrame:
    frame: Frame
    subjects: list[Subject]


@dataclass
class RunSummary:
    status: Status
    error: str = ""
    incomplete_sources: dict[str, str] = field(default_factory=dict)


PassageSink = Callable[[PassageResult], None]


class Pipeline:
    def __init__(self, sources: Sequence[FrameSource], vehicle_detector: VehicleDetector,
                 plate_detector: PlateDetector, make_tracker: Callable[[str], Tracker], builder: PassageBuilder,
                 on_passage: PassageSink, counters: Counters, *, queue_size: int = 16,
                 detect_every_n: int = 1, independent_frames: frozenset[str] = frozenset(),
                 min_frames: int = 1, on_idle: Callable[[IdlePoint], None] | None = None,
                 discard_on_stop: bool = False, max_batch: int = 0, max_detect_fps: float | None = None,
                 vehicle_every_n: int = 1) -> None:
        self.sources = list(sources)
        self.vehicle_detector, self.plate_detector = vehicle_detector, plate_detector
        self.trackers = {s.camera_id: make_tracker(s.camera_id) for s in self.sources}
        self.builder, self.on_passage, self.counters = builder, on_passage, counters
        self.detect_every_n, self.independent_frames, self.min_frames = detect_every_n, independent_frames, min_frames
        # A replay resumes from its checkpoint after a stop: what is still queued then is redone, never needed.
        self.on_idle, self.discard_on_stop = on_idle, discard_on_stop
        # Batch across cameras: at most one frame per camera per detector call unless max_batch says more.
        self.max_batch = max_batch or max(1, len(self.sources))
        self.min_detect_gap_s = 1.0 / max_detect_fps if max_detect_fps else 0.0
        self._last_detected: dict[str, datetime] = {}
        self.vehicle_every_n = vehicle_every_n
        self._detections: dict[str, int] = {}
        self.frames_q: queue.Queue[Frame | SourceEnd] = queue.Queue(maxsize=queue_size)
        self.detected_q: queue.Queue[DetectedFrame | SourceEnd] = queue.Queue(maxsize=queue_size)
        self.tracks_q: queue.Queue[Track | SourceEnd | IdlePoint] = queue.Queue(maxsize=queue_size * 4)
        self.stop_event = threading.Event()
        self.status = Status.STARTING
        self.error = ""
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- control ---------------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.status in (Status.STARTING, Status.RUNNING):
            self.status = Status.STOPPING
        self.stop_event.set()
        for source in self.sources:
            stopper = getattr(source, "stop", None)
            if callable(stopper):
                stopper()

    def _fail(self, stage: str, exc: BaseException) -> None:
        with self._lock:
            if self.status is not Status.FAILED:
                self.status = Status.FAILED
                self.error = f"{stage} worker died: {type(exc).__name__}: {exc}"
        log.error("%s worker died; stopping the pipeline", stage, exc_info=exc)
        self.stop_event.set()

    def _guarded(self, stage: str, target: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # a dying worker must stop the pipeline, never vanish
                self._fail(stage, exc)
        return threading.Thread(target=run, name=f"lez-{stage}", daemon=True)

    def run(self, join_timeout_s: float = 30.0) -> RunSummary:
        self.status = Status.RUNNING
        self._threads = [self._guarded(f"capture-{s.camera_id}", partial(self._capture, s)) for s in self.sources]
        self._threads += [self._guarded("detect", self._detect), self._guarded("track", self._track),
                          self._guarded("read", self._read)]
        for thread in self._threads:
            thread.start()
        try:
            while any(t.is_alive() for t in self._threads) and self.status is not Status.FAILED:
                self._threads[-1].join(timeout=POLL_S)
        except KeyboardInterrupt:
            self.stop()
        deadline = time.monotonic() + join_timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck and self.status is not Status.FAILED:
            self.status, self.error = Status.FAILED, f"threads did not stop in {join_timeout_s:.0f} s: {stuck}"
        if self.status is not Status.FAILED:
            self.status = Status.STOPPED
        incomplete = {s.camera_id: s.stopped_early_reason for s in self.sources if s.stopped_early_reason}
        return RunSummary(self.status, self.error, incomplete)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _put(self, q: queue.Queue[T], item: T, *, live: bool = False, camera_id: str = "", stage: str = "") -> bool:
        """Blocking put that gives up when the pipeline fails; live frames drop the oldest instead.

        A live put never waits: blocking the capture thread would stall the camera instead of dropping. Only
        frames are dropped — an end marker of another camera found at the head goes back in the queue (losing it
        would leave the detector waiting for that camera forever)."""
        while True:
            if self.status is Status.FAILED:
                return False
            try:
                if live:
                    q.put_nowait(item)
                else:
                    q.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                if live:
                    try:
                        oldest = q.get_nowait()
                    except queue.Empty:
                        continue
                    if isinstance(oldest, SourceEnd):
                        self._put(q, oldest)  # a marker is never dropped
                    else:
                        self.counters.inc("dropped_frames", camera=camera_id, stage=stage, reason="queue_full")

    def _discarding(self) -> bool:
        return self.discard_on_stop and self.stop_event.is_set()

    def _get(self, q: queue.Queue[T]) -> T | None:
        try:
            return q.get(timeout=POLL_S)
        except queue.Empty:
            return None

    # -- workers ---------------------------------------------------------------------------------------------
    def _capture(self, source: FrameSource) -> None:
        try:
            for frame in source.frames():
                if self.stop_event.is_set():
                    break
                self.counters.inc("frames", camera=source.camera_id)
                # Choose the frames to detect on here, before the queue: a frame that would be skipped anyway must
                # not push a due one out of a live camera's short queue (that would count as a drop, and read less).
                if not self._due_for_detection(frame):
                    self.counters.inc("frames_skipped_by_stride", camera=source.camera_id)
                    continue
                if not self._put(self.frames_q, frame, live=source.live, camera_id=source.camera_id, stage="detect"):
                    return
        finally:
            self.counters.set("decode_errors", float(source.decode_errors), camera=source.camera_id)
            self._put(self.frames_q, SourceEnd(source.camera_id))

    def _detect(self) -> None:
        open_sources = {s.camera_id for s in self.sources}
        while open_sources and self.status is not Status.FAILED:
            batch: list[Frame] = []
            item = self._get(self.frames_q)
            # Batch across cameras: whatever is already queued, at most one frame per camera.
            while item is not None:
                if isinstance(item, SourceEnd):
                    self._flush_batch(batch)
                    batch = []
                    open_sources.discard(item.camera_id)
                    self._put(self.detected_q, item)
                elif isinstance(item, Frame):
                    if self._discarding():
                        self.counters.inc("frames_discarded_on_stop", camera=item.camera_id)
                    else:
                        batch.append(item)  # already chosen for detection by its capture thread
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self.frames_q.get_nowait()
                except queue.Empty:
                    item = None
            self._flush_batch(batch)

    def _due_for_detection(self, frame: Frame) -> bool:
        """Every n-th frame, and no more often than max_detect_fps in event time (a 25 fps and a 12.5 fps camera
        then cost the same); the tracker bridges the frames in between. Skips are counted, never silent.
        Called by each camera's own capture thread, which alone touches that camera's entry."""
        if frame.seq % self.detect_every_n != 0:
            return False
        last = self._last_detected.get(frame.camera_id)
        if last is not None and (frame.event_time - last).total_seconds() < self.min_detect_gap_s - 1e-6:
            return False
        self._last_detected[frame.camera_id] = frame.event_time
        return True

    def _vehicle_pass_due(self, camera_id: str) -> bool:
        """The vehicle model on every n-th detected frame of a camera (it costs twice the plate model at 640x640;
        vehicles are big and slow, and plates keep their tracks alive in between). Counted, never silent."""
        count = self._detections.get(camera_id, 0)
        self._detections[camera_id] = count + 1
        if count % self.vehicle_every_n == 0:
            return True
        self.counters.inc("vehicle_passes_skipped", camera=camera_id)
        return False

    def _flush_batch(self, batch: list[Frame]) -> None:
        if not batch:
            return
        images = [f.image for f in batch]
        due = [self._vehicle_pass_due(f.camera_id) for f in batch]
        with self.counters.timer("detect"):
            found = iter(self.vehicle_detector.detect([f.image for f, d in zip(batch, due, strict=True) if d])
                         if any(due) else [])
            vehicles = [next(found) if d else [] for d in due]
            plates = self.plate_detector.detect(images)
        for frame, v, p in zip(batch, vehicles, plates, strict=True):
            self.counters.inc("plates_detected", float(len(p)), camera=frame.camera_id)
            self._put(self.detected_q, DetectedFrame(frame, associate(v, p)))

    def _track(self) -> None:
        open_sources = {s.camera_id for s in self.sources}
        while open_sources and self.status is not Status.FAILED:
            item = self._get(self.detected_q)
            if item is None:
                continue
            if isinstance(item, SourceEnd):
                open_sources.discard(item.camera_id)
                self._hand_over(self.trackers[item.camera_id].flush())
                continue
            assert isinstance(item, DetectedFrame)
            frame = item.frame
            tracker = self.trackers[frame.camera_id]
            with self.counters.timer("track"):
                finished = tracker.update(frame.seq, frame.event_time, frame.image, item.subjects)
            if frame.camera_id in self.independent_frames:
                finished += tracker.flush()  # stills are unrelated: each image's vehicles are their own passages
            self._hand_over(finished)
            if self.on_idle is not None and not tracker.active:
                self._put(self.tracks_q, IdlePoint(frame.camera_id, frame.seq + 1, tracker.next_track_id))
        self._put(self.tracks_q, SourceEnd("*"))  # every camera has ended: the reader may finish

    def _hand_over(self, tracks: list[Track]) -> None:
        for track in sorted(tracks, key=lambda t: t.track_id):
            if track.frames_seen < self.min_frames:
                self.counters.inc("tracks_discarded_short", camera=track.camera_id)
                continue
            self._put(self.tracks_q, track)

    def _read(self) -> None:
        while self.status is not Status.FAILED:
            item = self._get(self.tracks_q)
            if item is None:
                continue
            if isinstance(item, SourceEnd):
                return
            if isinstance(item, IdlePoint):
                if self.on_idle is not None:
                    self.on_idle(item)
                continue
            if self._discarding():
                self.counters.inc("tracks_discarded_on_stop", camera=item.camera_id)
                continue
            with self.counters.timer("read"):
                result = self.builder.build(item)
            self.counters.inc("ocr_reads", float(result.ocr_reads), camera=item.camera_id)
            self.on_passage(result)

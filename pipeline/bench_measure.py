"""What the benchmark measures around a real pipeline run: frame timing at the source, publish timing at the sink,
and the scoring of the published plate reads against a clip's ground truth.

Nothing here changes what the pipeline does: the source wrapper only times (and, for a live run, paces) the frames
the real decoder yields, and the sink wrapper only stamps what the real Kafka sink is handed.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pipeline.runtime import FrameSource
from pipeline.sources import Frame
from sinks.base import Sink


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: comparable across machine loads, unlike wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


class TimedSource:
    """Wraps a file source. `paced=True` turns it into a live camera: frame i is released at its own video time
    after the first (sleeping when early) and the pipeline drops the oldest frames when it falls behind, as it
    does for a real RTSP camera. A frame's capture time is when the camera would have taken it (its due time),
    so a decoder or pipeline that lags shows up as latency, not hidden."""

    def __init__(self, inner: FrameSource, paced: bool) -> None:
        self.inner, self.paced = inner, paced
        self.camera_id = inner.camera_id
        self.live = paced
        self.capture_wall: dict[datetime, float] = {}
        self.decode_s = 0.0
        self.frames_yielded = 0
        self.first_wall: float | None = None
        self.first_cpu_s = 0.0
        self.last_event: datetime | None = None
        self.first_event: datetime | None = None
        self.decode_errors = 0  # copied from the real source as it goes (the pipeline reads them at the end)
        self.stopped_early_reason = ""

    def stop(self) -> None:
        stopper = getattr(self.inner, "stop", None)
        if callable(stopper):
            stopper()

    def frames(self) -> Iterator[Frame]:
        try:
            yield from self._timed_frames()
        finally:
            self.decode_errors, self.stopped_early_reason = self.inner.decode_errors, self.inner.stopped_early_reason

    def _timed_frames(self) -> Iterator[Frame]:
        frames = self.inner.frames()
        while True:
            start = time.perf_counter()
            frame = next(frames, None)
            self.decode_s += time.perf_counter() - start
            if frame is None:
                return
            if self.first_wall is None or self.first_event is None:
                self.first_wall, self.first_event = time.perf_counter(), frame.event_time
                self.first_cpu_s = cpu_seconds()
            captured = time.perf_counter()
            if self.paced:
                captured = self.first_wall + (frame.event_time - self.first_event).total_seconds()
                delay = captured - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            self.capture_wall[frame.event_time] = captured
            self.frames_yielded += 1
            self.last_event = frame.event_time
            yield frame

    @property
    def video_s(self) -> float:
        if self.first_event is None or self.last_event is None or self.frames_yielded < 2:
            return 0.0
        span = (self.last_event - self.first_event).total_seconds()
        return span * self.frames_yielded / (self.frames_yielded - 1)  # n frames last n frame intervals


@dataclass
class TimingSink:
    """Stamps each message with the wall time the real sink (durable outbox → Kafka) accepted it."""

    inner: Sink
    records: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None:
        self.inner.publish(topic, key, message)
        self.records.append((time.perf_counter(), topic, message.model_dump(mode="python")))

    def flush(self, timeout_s: float) -> bool:
        return self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def latencies_s(records: list[tuple[float, str, dict[str, Any]]], topic: str,
                capture_wall: dict[datetime, float]) -> list[float]:
    """Capture of a passage's last frame → its plate-read message accepted by the sink, in seconds."""
    out = []
    for published, record_topic, message in records:
        captured = capture_wall.get(message["last_seen"])
        if record_topic == topic and captured is not None:
            out.append(published - captured)
    return out


@dataclass(frozen=True)
class ReadScore:
    eligible: int  # readable plates that are wholly visible on at least one frame
    read: int  # of those, read exactly by at least one published passage
    missed: int
    wrong_reads: int  # passages "read" with a text that is no plate in the clip
    duplicate_reads: int  # extra passages for a vehicle already read (a split track)
    unreadable_plates: int  # plates the clip makes unreadable on purpose (glare, mud)
    unreadable_passages: int  # passages published as "unreadable, needs review"

    @property
    def read_rate(self) -> float:
        return self.read / self.eligible if self.eligible else 0.0


def score_reads(truth: dict[str, Any], reads: list[dict[str, Any]]) -> ReadScore:
    vehicles = truth["vehicles"]
    eligible = {v["plate_compact"] for v in vehicles if v["readable"] and v["plate_first_frame"] is not None}
    every_plate = {v["plate_compact"] for v in vehicles}
    texts = [m["plate"]["text"] for m in reads if m["plate"]["status"] == "read" and m["plate"]["text"]]
    hits = eligible & set(texts)
    duplicates = sum(texts.count(t) - 1 for t in set(texts) if t in every_plate)
    return ReadScore(
        eligible=len(eligible), read=len(hits), missed=len(eligible - hits),
        wrong_reads=sum(1 for t in texts if t not in every_plate), duplicate_reads=duplicates,
        unreadable_plates=sum(1 for v in vehicles if not v["readable"]),
        unreadable_passages=sum(1 for m in reads if m["plate"]["status"] != "read"))


class ThreadCpuSampler:
    """Per-thread CPU seconds from /proc (Linux), sampled while the pipeline runs: load-independent stage costs.

    Python threads are named by the pipeline (`lez-detect`, `lez-read`, …); native pools (ONNX Runtime's intra-op
    workers, OpenCV's) have no Python name and are summed as `native-pools`."""

    def __init__(self, interval_s: float = 0.25) -> None:
        import os
        import threading

        self._os, self._threading = os, threading
        self.interval_s = interval_s
        self.cpu_s: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-cpu-sampler", daemon=True)
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        self._baseline: dict[int, float] = {}

    def _read(self) -> dict[int, float]:
        out: dict[int, float] = {}
        try:
            tids = self._os.listdir("/proc/self/task")
        except OSError:
            return out
        for tid in tids:
            try:
                with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                out[int(tid)] = (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime
            except (OSError, IndexError, ValueError):
                continue
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        for thread in self._threading.enumerate():
            if thread.native_id is not None:
                self.names[thread.native_id] = thread.name
        self.cpu_s.update(self._read())

    def start(self) -> ThreadCpuSampler:
        self._baseline = self._read()
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.sample()
        by_name: dict[str, float] = {}
        for tid, total in self.cpu_s.items():
            name = self.names.get(tid, "native-pools")
            if name.startswith("lez-capture"):
                name = "lez-capture"
            by_name[name] = by_name.get(name, 0.0) + total - self._baseline.get(tid, 0.0)
        return {k: round(v, 2) for k, v in sorted(by_name.items())}

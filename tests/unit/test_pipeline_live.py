"""Live sources with fault-injecting captures: reconnection, frame deadline, restart budget, health stats.

The real-stream counterpart (an ffmpeg HTTP server killed and restarted) is tests/integration/test_live_stream.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.live import Capture, StreamSettings, StreamSource
from pipeline.sources import Frame, VideoFileSource
from tests.unit.test_pipeline_sources import write_video

FAST = StreamSettings(open_timeout_s=0.5, frame_deadline_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.2,
                      restart_budget=10, restart_window_s=60.0)


class FakeCapture:
    """Plays a script: 'f' = a frame, 'x' = a failed read, 'h' = a read that hangs until `release_hang` is set."""

    def __init__(self, script: str, opened: bool = True, release_hang: threading.Event | None = None) -> None:
        self.script, self.opened = list(script), opened
        self.release_hang = release_hang or threading.Event()
        self.released = threading.Event()

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, npt.NDArray[np.uint8] | None]:
        step = self.script.pop(0) if self.script else "f"
        if step == "h":
            self.release_hang.wait(30)
            return False, None
        if step == "x":
            return False, None
        time.sleep(0.005)
        return True, np.zeros((8, 8, 3), np.uint8)

    def get(self, prop: int) -> float:
        return 25.0

    def release(self) -> None:
        self.released.set()


class Factory:
    def __init__(self, captures: Sequence[FakeCapture]) -> None:
        self.captures = list(captures)
        self.opened = 0

    def __call__(self, url: str, settings: StreamSettings) -> Capture:
        self.opened += 1
        return self.captures.pop(0) if self.captures else FakeCapture("", opened=False)


def take(frames: Iterator[Frame], n: int, timeout_s: float = 20.0) -> list[Frame]:
    out: list[Frame] = []
    deadline = time.monotonic() + timeout_s
    for frame in frames:
        out.append(frame)
        if len(out) >= n or time.monotonic() > deadline:
            break
    return out


def test_reconnects_after_a_dropped_stream_and_keeps_counting_seq() -> None:
    factory = Factory([FakeCapture("fffffx"), FakeCapture("", opened=False), FakeCapture("f" * 50)])
    source = StreamSource("rtsp://user:secret@cam/stream", "cam", FAST, factory)
    frames = take(source.frames(), 10)
    source.stop()
    assert [f.seq for f in frames] == list(range(10))  # a reconnect is not a new clip: seq never restarts
    assert source.reconnects == 2 and source.decode_errors == 2  # the failed read and the failed open
    assert all("secret" not in f.source_name for f in frames)
    health = source.stats.snapshot()
    assert health.frames == 10 and health.declared_fps == 25.0 and health.reconnects == 2


def test_a_read_that_hangs_is_caught_by_the_deadline_and_the_capture_rebuilt() -> None:
    release = threading.Event()
    hung = FakeCapture("fffh", release_hang=release)
    factory = Factory([hung, FakeCapture("f" * 50)])
    source = StreamSource("rtsp://cam/stream", "cam", FAST, factory)
    start = time.monotonic()
    frames = take(source.frames(), 8)
    elapsed = time.monotonic() - start
    source.stop()
    assert [f.seq for f in frames] == list(range(8))
    assert source.stats.deadline_misses == 1 and source.reconnects == 1
    assert elapsed < 5.0  # the deadline (0.5 s) + backoff, not the hang (30 s)
    assert not hung.released.is_set()  # the hung read still owns its capture...
    release.set()
    assert hung.released.wait(2.0)  # ...and releases it (then its thread ends) once the read returns


def test_restart_budget_ends_the_source_with_a_reason() -> None:
    source = StreamSource("rtsp://cam/stream", "cam", StreamSettings(
        open_timeout_s=0.2, frame_deadline_s=0.2, backoff_initial_s=0.01, backoff_max_s=0.02, restart_budget=3,
        restart_window_s=60.0), Factory([]))
    assert list(source.frames()) == []
    assert source.reconnects == 3
    assert "restart budget spent: 3 reconnects" in source.stopped_early_reason
    assert source.stats.state == "ended"


def test_stop_during_backoff_returns_promptly() -> None:
    slow = StreamSettings(open_timeout_s=0.2, frame_deadline_s=0.2, backoff_initial_s=30.0, backoff_max_s=30.0)
    source = StreamSource("rtsp://cam/stream", "cam", slow, Factory([]))
    done = threading.Event()

    def consume() -> None:
        list(source.frames())
        done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    time.sleep(0.5)  # the first open failed; the source is now backing off for 30 s
    source.stop()
    assert done.wait(2.0)
    thread.join(timeout=1.0)


def test_a_replay_is_read_once_even_when_its_consumer_is_slower_than_any_deadline(tmp_path: Path) -> None:
    """Files have no deadline and are never reopened: a reopen would restart at frame 0 and duplicate passages."""
    clip = write_video(tmp_path / "clip.avi", frames=12)
    source = VideoFileSource(clip, "cam", datetime(2026, 1, 1, tzinfo=UTC))
    seqs = []
    for frame in source.frames():
        seqs.append(frame.seq)
        if frame.seq == 3:
            time.sleep(1.0)
    assert seqs == list(range(12))
    assert source.stats.state == "ended" and source.stats.frames == 12


@pytest.mark.parametrize("age, ready", [(1.0, True), (30.0, False)])
def test_readiness_follows_the_last_frame_age(age: float, ready: bool) -> None:
    from pipeline.health import camera_ready

    source = StreamSource("rtsp://cam/stream", "cam", FAST, Factory([]))
    source.stats.frame_delivered()
    assert source.stats.last_frame_monotonic is not None
    health = source.stats.snapshot(now=source.stats.last_frame_monotonic + age)
    assert camera_ready(health, stale_after_s=10.0) is ready

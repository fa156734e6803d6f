"""The soak's own parts: the looping replay (new traffic each loop, never a repeated id) and the RSS slope."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.soak import LOOP_GAP_S, LoopingVideoSource, Sample, slope_per_hour
from tests.unit.test_pipeline_sources import write_video


def test_looping_source_keeps_seq_and_event_time_increasing(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.avi", frames=10)
    source = LoopingVideoSource(clip, "cam", datetime(2026, 7, 3, 12, tzinfo=UTC), time.monotonic() + 3600)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 25:
            source.stop()
    assert [f.seq for f in frames] == list(range(len(frames)))
    times = [f.event_time for f in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    gap = (times[10] - times[9]).total_seconds()
    assert gap == pytest.approx(LOOP_GAP_S, abs=0.2)  # tracks end between loops: each loop is new traffic
    assert source.loops >= 2 and source.stats.frames == len(frames)


def _samples(rss: list[float]) -> list[Sample]:
    return [Sample(60.0 * i, r, 10, 0, 0, 0, {}, 0, 0) for i, r in enumerate(rss)]


def test_slope_is_mib_per_hour() -> None:
    assert slope_per_hour(_samples([100.0] * 10)) == 0.0
    assert slope_per_hour(_samples([100.0 + i for i in range(10)])) == pytest.approx(60.0)  # 1 MiB per minute
    assert slope_per_hour(_samples([100.0])) == 0.0

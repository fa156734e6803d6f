"""Detector backend selection in the box config, the detection rate limiter, and the bench's measurements."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.bench_measure import latencies_s, percentile, score_reads
from pipeline.config import DetectorsConfig, YoloDetectorConfig
from pipeline.metrics import Counters
from pipeline.runtime import Pipeline
from pipeline.sources import Frame

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)


def test_default_backend_is_onnxruntime_for_both_detectors() -> None:
    d = DetectorsConfig()
    assert (d.vehicle.type, d.plate.type) == ("onnxruntime", "onnxruntime")
    assert d.plate.weights.endswith(".onnx")


@pytest.mark.parametrize(("fields", "message"), [
    ({"type": "onnxruntime", "weights": "plate.pt"}, "needs an .onnx file"),
    ({"type": "ultralytics", "weights": "plate.pt", "tensorrt": True, "device": "cuda"}, "tensorrt"),
    ({"type": "onnxruntime", "weights": "m.onnx", "tensorrt": True}, "tensorrt"),
    ({"weights": "m.onnx", "half": True}, "needs a GPU"),
    ({"weights": "m.onnx", "device": "gpu"}, "device"),
])
def test_bad_backend_options_are_rejected(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        YoloDetectorConfig.model_validate(fields)


@pytest.mark.parametrize("fields", [
    {"type": "ultralytics", "weights": "plate_detector_model_1.pt", "device": "cuda:0", "half": True},
    {"type": "ultralytics", "weights": "plate_detector_model_1.pt", "device": "0", "half": True},
    {"type": "onnxruntime", "weights": "yolov8n.onnx", "device": "cuda", "tensorrt": True, "half": True},
])
def test_gpu_configs_validate(fields: dict[str, Any]) -> None:
    assert YoloDetectorConfig.model_validate(fields).device != "cpu"


def test_the_gpu_check_config_validates() -> None:
    from pipeline.app import load_config

    loaded = load_config(REPO / "configs" / "bench" / "gpu.yaml")
    assert loaded.app.detectors.plate.device.startswith("cuda") and loaded.app.detectors.max_batch >= 8


def _frames(fps: float, n: int) -> list[Frame]:
    image = np.zeros((4, 4, 3), np.uint8)
    return [Frame("cam", i, START + timedelta(seconds=i / fps), image) for i in range(n)]


def _pipeline(**kwargs: Any) -> Pipeline:
    none = cast(Any, None)
    return Pipeline([], none, none, none, none, none, Counters(), **kwargs)


@pytest.mark.parametrize(("fps", "max_fps", "expected"), [(25.0, 5.0, 10), (12.5, 5.0, 17), (25.0, None, 50)])
def test_max_detect_fps_is_in_event_time(fps: float, max_fps: float | None, expected: int) -> None:
    pipeline = _pipeline(max_detect_fps=max_fps)
    chosen = [f.seq for f in _frames(fps, 50) if pipeline._due_for_detection(f)]
    assert len(chosen) == expected
    if max_fps:
        gaps = {round((b - a) / fps, 3) for a, b in itertools.pairwise(chosen)}
        assert min(gaps) >= 1 / max_fps - 1e-6


def test_stride_and_rate_combine() -> None:
    pipeline = _pipeline(detect_every_n=2, max_detect_fps=10.0)
    assert [f.seq for f in _frames(25.0, 12) if pipeline._due_for_detection(f)] == [0, 4, 8]


def test_score_reads_counts_misses_wrong_and_duplicates() -> None:
    truth = {"vehicles": [
        {"plate_compact": "30A12345", "readable": True, "plate_first_frame": 3},
        {"plate_compact": "29H45678", "readable": True, "plate_first_frame": 9},
        {"plate_compact": "30K56789", "readable": True, "plate_first_frame": None},  # plate never wholly visible
        {"plate_compact": "30E88816", "readable": False, "plate_first_frame": 5},
    ]}

    def msg(status: str, text: str | None) -> dict[str, Any]:
        return {"plate": {"status": status, "text": text}}

    score = score_reads(truth, [msg("read", "30A12345"), msg("read", "30A12345"), msg("read", "30A1234S"),
                                msg("unreadable", None)])
    assert (score.eligible, score.read, score.missed, score.wrong_reads, score.duplicate_reads) == (2, 1, 1, 1, 1)
    assert score.unreadable_passages == 1 and score.read_rate == 0.5


def test_latency_uses_the_capture_time_of_the_last_frame() -> None:
    last = START + timedelta(seconds=2)
    records = [(12.5, "reads", {"last_seen": last}), (13.0, "violations", {"last_seen": last})]
    assert latencies_s(records, "reads", {last: 10.0}) == [2.5]
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([], 95) is None


class _FakeSource:
    camera_id, live, decode_errors, stopped_early_reason = "cam", False, 0, ""

    def __init__(self, fps: float, n: int) -> None:
        self._frames = _frames(fps, n)

    def frames(self) -> Any:
        yield from self._frames


def test_paced_source_releases_frames_at_video_time_and_counts_them() -> None:
    from pipeline.bench_measure import TimedSource

    source = TimedSource(_FakeSource(20.0, 5), paced=True)
    assert source.live  # a paced file behaves like a camera: the pipeline drops instead of blocking
    import time

    start = time.perf_counter()
    frames = list(source.frames())
    assert time.perf_counter() - start >= 0.19  # 4 intervals of 50 ms
    walls = [source.capture_wall[f.event_time] for f in frames]
    assert [round(b - a, 3) for a, b in itertools.pairwise(walls)] == [0.05] * 4
    assert source.frames_yielded == 5 and source.video_s == pytest.approx(0.25)


def test_unpaced_source_is_lossless_and_fast() -> None:
    from pipeline.bench_measure import TimedSource

    source = TimedSource(_FakeSource(1.0, 3), paced=False)
    assert not source.live and len(list(source.frames())) == 3 and source.video_s == pytest.approx(3.0)


def test_vehicle_model_runs_on_every_nth_detected_frame_and_skips_are_counted() -> None:
    pipeline = _pipeline(vehicle_every_n=3)
    due = [pipeline._vehicle_pass_due("cam") for _ in range(7)] + [pipeline._vehicle_pass_due("other")]
    assert due == [True, False, False, True, False, False, True, True]
    assert pipeline.counters.get("vehicle_passes_skipped", camera="cam") == 4

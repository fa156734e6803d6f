"""The ONNX Runtime detectors give the same boxes as ultralytics (PyTorch .pt plate model, ultralytics-on-ORT
vehicle model) on real frames of the demo clip, and the offline export is the one its sidecar records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pytest

from detectors.export import export_is_current, sidecar_path
from detectors.onnx_backend import OrtPlateDetector, OrtSettings, OrtVehicleDetector
from detectors.ultralytics_backend import UltralyticsPlateDetector, UltralyticsVehicleDetector, YoloSettings
from detectors.weights import PLATE_DETECTOR_ONNX, sha256_of

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("LEZ_STATE_DIR", ROOT / ".state")) / "models"
CLIP = ROOT / "sample_videos" / "demo_gateway.mp4"
INTEL = ROOT.parent / "shared" / "data" / "videos" / "intel_car-detection.mp4"


@pytest.fixture(scope="module")
def frames() -> list:
    if not (MODELS / PLATE_DETECTOR_ONNX).is_file():
        pytest.skip("models not extracted/exported: run `make models` (make test does it)")
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % 6 == 0:
            out.append(frame)
        index += 1
    cap.release()
    return out


def _same_boxes(expected: list, got: list) -> None:
    assert len(got) == len(expected)
    for e, g in zip(sorted(expected, key=lambda d: -d.score), sorted(got, key=lambda d: -d.score), strict=True):
        assert g.box.iou(e.box) > 0.995
        assert g.score == pytest.approx(e.score, abs=1e-4)


def test_plate_detector_onnx_matches_the_pytorch_model(frames: list) -> None:
    torch_model = UltralyticsPlateDetector(YoloSettings(MODELS / "plate_detector_model_1.pt"))
    ort_model = OrtPlateDetector(OrtSettings(MODELS / PLATE_DETECTOR_ONNX, threads=2))
    found = 0
    for frame in frames:
        expected, got = torch_model.detect([frame])[0], ort_model.detect([frame])[0]
        _same_boxes(expected, got)
        found += len(got)
    assert found >= 5  # the clip's plates are really there: the comparison is not between empty lists


def test_batched_plate_detection_equals_frame_by_frame(frames: list) -> None:
    model = OrtPlateDetector(OrtSettings(MODELS / PLATE_DETECTOR_ONNX, threads=2))
    batch = frames[2:6]
    for one, together in zip([model.detect([f])[0] for f in batch], model.detect(batch), strict=True):
        _same_boxes(one, together)


def test_vehicle_detector_matches_ultralytics_on_real_cars() -> None:
    """The COCO model finds none of the generator's cartoon vehicles, so this compares on the real intel clip."""
    if not INTEL.is_file() or not (MODELS / "yolov8n.onnx").is_file():
        pytest.skip("needs ../shared/data/videos/intel_car-detection.mp4 and the models")
    cap = cv2.VideoCapture(str(INTEL))
    frames = [frame for i in range(377) if (frame := cap.read()[1]) is not None and i % 15 == 0]
    cap.release()
    ultra = UltralyticsVehicleDetector(YoloSettings(MODELS / "yolov8n.onnx", conf=0.3))
    ort_model = OrtVehicleDetector(OrtSettings(MODELS / "yolov8n.onnx", conf=0.3, threads=2))
    found = 0
    for frame in frames:
        expected, got = ultra.detect([frame])[0], ort_model.detect([frame])[0]
        _same_boxes(expected, got)
        assert [d.vehicle_class for d in sorted(got, key=lambda d: -d.score)] == \
            [d.vehicle_class for d in sorted(expected, key=lambda d: -d.score)]
        found += len(got)
    assert found >= 5


def test_export_sidecar_records_source_and_export_hashes() -> None:
    onnx_path = MODELS / PLATE_DETECTOR_ONNX
    if not onnx_path.is_file():
        pytest.skip("models not exported: run `make models`")
    meta = json.loads(sidecar_path(onnx_path).read_text())
    assert meta["sha256"] == sha256_of(onnx_path)
    assert meta["source_sha256"] == sha256_of(MODELS / "plate_detector_model_1.pt")
    assert meta["max_box_diff_px"] < 0.05 and meta["max_score_diff"] < 1e-3
    assert export_is_current(MODELS / "plate_detector_model_1.pt", onnx_path)

"""YOLOv8 letterbox/decode/NMS (the ONNX Runtime backend's own maths) and the ORT provider choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.onnx_backend import DetectorBackendError, OrtSettings, providers_for
from detectors.yolo_postprocess import Letterbox, decode, letterbox, nms, to_blob


def test_letterbox_square_pads_centred_with_grey() -> None:
    image = np.full((1080, 1920, 3), 7, np.uint8)
    padded, fit = letterbox(image, 640)
    assert padded.shape == (640, 640, 3)
    assert (fit.gain_x, fit.gain_y, fit.pad_x, fit.pad_y) == (pytest.approx(1 / 3), pytest.approx(1 / 3), 0, 140)
    assert padded[0, 0, 0] == 114 and padded[320, 320, 0] == 7


def test_letterbox_rect_pads_only_to_the_stride() -> None:
    padded, fit = letterbox(np.zeros((720, 1280, 3), np.uint8), 640, stride=32)
    assert padded.shape == (384, 640, 3)  # 360 rows of picture, 12 + 12 of padding
    assert fit.pad_y == 12


def test_to_blob_is_rgb_nchw_unit_range() -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    blob = to_blob([image, image])
    assert blob.shape == (2, 3, 32, 32) and blob.dtype == np.float32
    assert blob[0, 2].max() == pytest.approx(1.0) and blob[0, 0].max() == 0.0  # blue is the last RGB plane


def _head(boxes: list[tuple[float, float, float, float, int, float]], n_classes: int, anchors: int = 50) -> np.ndarray:
    """A fake head output (4 + classes, anchors): xywh in network pixels, one class score per anchor."""
    out = np.zeros((4 + n_classes, anchors), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        out[:4, i] = (cx, cy, w, h)
        out[4 + cls, i] = score
    return out


def test_decode_maps_back_to_frame_pixels() -> None:
    fit = Letterbox(gain_x=0.5, gain_y=0.5, pad_x=0, pad_y=20, width_px=1280, height_px=720)
    [box] = decode(_head([(100, 70, 40, 20, 0, 0.9)], 1), fit, conf=0.25, iou=0.5)
    assert box.xyxy == pytest.approx((160.0, 80.0, 240.0, 120.0))
    assert box.score == pytest.approx(0.9) and box.class_id == 0


def test_decode_filters_confidence_and_classes_and_clips() -> None:
    fit = Letterbox(1.0, 1.0, 0, 0, 100, 100)
    head = _head([(10, 10, 10, 10, 2, 0.2), (50, 50, 10, 10, 2, 0.8), (95, 50, 20, 10, 3, 0.7),
                  (30, 30, 10, 10, 0, 0.9)], 4)
    boxes = decode(head, fit, conf=0.25, iou=0.5, classes=frozenset({2, 3}))
    assert sorted(b.class_id for b in boxes) == [2, 3]
    assert max(b.xyxy[2] for b in boxes) == 100.0  # clipped to the frame


def test_nms_is_class_aware() -> None:
    fit = Letterbox(1.0, 1.0, 0, 0, 200, 200)
    same = _head([(50, 50, 40, 40, 0, 0.9), (52, 50, 40, 40, 0, 0.8), (52, 50, 40, 40, 1, 0.7)], 2)
    boxes = decode(same, fit, conf=0.25, iou=0.5)
    assert sorted((b.class_id, round(b.score, 1)) for b in boxes) == [(0, 0.9), (1, 0.7)]


def test_nms_keeps_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [1, 1, 10, 10]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.8], np.float32), 0.5) == [1, 2]


def test_providers_cpu_and_cuda() -> None:
    cpu = OrtSettings(weights=Path("m.onnx"))
    assert providers_for(cpu, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    cuda = OrtSettings(weights=cpu.weights, device="cuda:1", tensorrt=True, half=True)
    got = providers_for(cuda, ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert [p if isinstance(p, str) else p[0] for p in got] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert got[0][1]["trt_fp16_enable"] is True and got[1][1]["device_id"] == 1


def test_cuda_without_a_gpu_build_is_an_error_not_a_cpu_fallback() -> None:
    settings = OrtSettings(weights=Path("m.onnx"), device="cuda")
    with pytest.raises(DetectorBackendError, match="CUDAExecutionProvider"):
        providers_for(settings, ["CPUExecutionProvider"])

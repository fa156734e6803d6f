"""Vehicle and plate detectors through ultralytics (PyTorch `.pt` or ONNX Runtime `.onnx` weights).

The library's `Results` are converted to our frozen detection types right here, at the edge, so no stage
downstream ever sees an ultralytics object.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, VehicleDetection
from detectors.weights import WeightsError, check_pinned, sha256_of
from rules.types import VehicleClass

log = logging.getLogger(__name__)

# COCO class ids of the vehicles the LEZ cares about.
COCO_VEHICLE_CLASSES: dict[int, VehicleClass] = {
    2: VehicleClass.CAR,
    3: VehicleClass.MOTORCYCLE,
    5: VehicleClass.BUS,
    7: VehicleClass.TRUCK,
}


@dataclass(frozen=True)
class YoloSettings:
    weights: Path
    imgsz: int = 640
    conf: float = 0.25
    iou: float = 0.5
    device: str = "cpu"
    half: bool = False


@dataclass(frozen=True)
class RawBox:
    xyxy: tuple[float, float, float, float]
    score: float
    class_id: int


class _YoloModel:
    """One loaded ultralytics model; `predict` returns plain boxes per image.

    ultralytics predictors keep per-call state, so calls are serialised with a lock; a pipeline gives each
    detector one owning thread anyway. ONNX files exported with a fixed batch of 1 are run image by image.
    """

    def __init__(self, settings: YoloSettings, task: str = "detect") -> None:
        from ultralytics.models import YOLO  # heavy import, deferred until a model is really needed

        if not settings.weights.is_file():
            raise WeightsError(f"model weights not found: {settings.weights} (run `make models`)")
        self.settings = settings
        self.sha256 = sha256_of(settings.weights)
        check_pinned(settings.weights, self.sha256)
        try:
            self._model: Any = YOLO(str(settings.weights), task=task)
        except Exception as exc:  # torch/ultralytics raise many kinds on a damaged file; all mean the same here
            raise WeightsError(f"model file {settings.weights} cannot be loaded ({type(exc).__name__}): corrupt or "
                               "not a model — `lez-anpr fetch-models` re-extracts it and checks its sha256") from None
        self._per_image = settings.weights.suffix == ".onnx"
        self._lock = threading.Lock()

    def predict(self, images: Sequence[ImageBGR], classes: list[int] | None = None) -> list[list[RawBox]]:
        if not images:
            return []
        s = self.settings
        kwargs: dict[str, Any] = dict(imgsz=s.imgsz, conf=s.conf, iou=s.iou, device=s.device, half=s.half,
                                      verbose=False, classes=classes)
        with self._lock:
            if self._per_image:
                results = [self._model.predict(source=image, **kwargs)[0] for image in images]
            else:
                results = list(self._model.predict(source=list(images), **kwargs))
        return [_raw_boxes(result) for result in results]


def _raw_boxes(result: Any) -> list[RawBox]:
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return []
    xyxy = np.asarray(boxes.xyxy.cpu().numpy(), dtype=np.float64)
    conf = np.asarray(boxes.conf.cpu().numpy(), dtype=np.float64)
    cls = np.asarray(boxes.cls.cpu().numpy(), dtype=np.int64)
    out = []
    for (x1, y1, x2, y2), score, class_id in zip(xyxy, conf, cls, strict=True):
        if x2 > x1 and y2 > y1:
            out.append(RawBox((float(x1), float(y1), float(x2), float(y2)), float(score), int(class_id)))
    return out


class UltralyticsVehicleDetector:
    """COCO YOLOv8n restricted to car, motorcycle, bus and truck."""

    def __init__(self, settings: YoloSettings) -> None:
        self._model = _YoloModel(settings)
        self.model_sha256 = self._model.sha256

    def detect(self, images: Sequence[ImageBGR]) -> list[list[VehicleDetection]]:
        per_image = self._model.predict(images, classes=sorted(COCO_VEHICLE_CLASSES))
        return [[VehicleDetection(BoxXYXY(*b.xyxy), b.score, COCO_VEHICLE_CLASSES[b.class_id])
                 for b in boxes if b.class_id in COCO_VEHICLE_CLASSES] for boxes in per_image]


class UltralyticsPlateDetector:
    """One-class YOLOv8n plate model run on the whole frame (DESIGN §4: vehicle-box gating missed 26%)."""

    def __init__(self, settings: YoloSettings) -> None:
        self._model = _YoloModel(settings)
        self.model_sha256 = self._model.sha256

    def detect(self, images: Sequence[ImageBGR]) -> list[list[PlateDetection]]:
        return [[PlateDetection(BoxXYXY(*b.xyxy), b.score) for b in boxes] for boxes in self._model.predict(images)]

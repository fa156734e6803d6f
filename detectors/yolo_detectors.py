"""The vehicle and plate detectors on top of any YOLOv8 backend: a backend only has to turn images into raw boxes.

Both backends (ONNX Runtime, ultralytics) share these, so what a detection *means* — which COCO classes are
vehicles, which box is a plate — is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, VehicleDetection
from detectors.weights import WeightsError
from detectors.yolo_postprocess import RawBox
from rules.types import VehicleClass

# COCO class ids of the vehicles the LEZ cares about.
COCO_VEHICLE_CLASSES: dict[int, VehicleClass] = {
    2: VehicleClass.CAR,
    3: VehicleClass.MOTORCYCLE,
    5: VehicleClass.BUS,
    7: VehicleClass.TRUCK,
}


class RawBoxModel(Protocol):
    """One loaded YOLOv8 model of some backend."""

    sha256: str

    @property
    def class_count(self) -> int | None:
        """How many classes the model detects (None when the backend cannot tell)."""
        ...

    def predict(self, images: Sequence[ImageBGR], classes: frozenset[int] | None = None) -> list[list[RawBox]]: ...


class YoloVehicleDetector:
    """COCO YOLOv8n restricted to car, motorcycle, bus and truck."""

    def __init__(self, model: RawBoxModel) -> None:
        classes = model.class_count
        if classes is not None and classes <= max(COCO_VEHICLE_CLASSES):
            raise WeightsError(f"the vehicle detector's model has {classes} class(es): it must be a COCO model "
                               "(80 classes; car, motorcycle, bus and truck among them), e.g. yolov8n.onnx — is "
                               "this the plate model?")
        self._model = model
        self.model_sha256 = model.sha256

    def detect(self, images: Sequence[ImageBGR]) -> list[list[VehicleDetection]]:
        per_image = self._model.predict(images, classes=frozenset(COCO_VEHICLE_CLASSES))
        return [[VehicleDetection(BoxXYXY(*b.xyxy), b.score, COCO_VEHICLE_CLASSES[b.class_id])
                 for b in boxes if b.class_id in COCO_VEHICLE_CLASSES] for boxes in per_image]


class YoloPlateDetector:
    """One-class plate model on the whole frame (DESIGN §4: gating by vehicle boxes missed 26 % of plates)."""

    def __init__(self, model: RawBoxModel) -> None:
        # Any box of a many-class model would be taken for a plate (a COCO model: every person and car).
        if model.class_count not in (None, 1):
            raise WeightsError(f"the plate detector's model has {model.class_count} classes: a plate model has "
                               "one (e.g. plate_detector_model_1.onnx) — is this the vehicle model?")
        self._model = model
        self.model_sha256 = model.sha256

    def detect(self, images: Sequence[ImageBGR]) -> list[list[PlateDetection]]:
        return [[PlateDetection(BoxXYXY(*b.xyxy), b.score) for b in boxes] for boxes in self._model.predict(images)]

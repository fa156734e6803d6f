"""The vehicle and plate detectors on top of any YOLOv8 backend: a backend only has to turn images into raw boxes.

Both backends (ONNX Runtime, ultralytics) share these, so what a detection *means* — which COCO classes are
vehicles, which box is a plate — is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, VehicleDetection
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

    def predict(self, images: Sequence[ImageBGR], classes: frozenset[int] | None = None) -> list[list[RawBox]]: ...


class YoloVehicleDetector:
    """COCO YOLOv8n restricted to car, motorcycle, bus and truck."""

    def __init__(self, model: RawBoxModel) -> None:
        self._model = model
        self.model_sha256 = model.sha256

    def detect(self, images: Sequence[ImageBGR]) -> list[list[VehicleDetection]]:
        per_image = self._model.predict(images, classes=frozenset(COCO_VEHICLE_CLASSES))
        return [[VehicleDetection(BoxXYXY(*b.xyxy), b.score, COCO_VEHICLE_CLASSES[b.class_id])
                 for b in boxes if b.class_id in COCO_VEHICLE_CLASSES] for boxes in per_image]


class YoloPlateDetector:
    """One-class plate model on the whole frame (DESIGN §4: gating by vehicle boxes missed 26 % of plates)."""

    def __init__(self, model: RawBoxModel) -> None:
        self._model = model
        self.model_sha256 = model.sha256

    def detect(self, images: Sequence[ImageBGR]) -> list[list[PlateDetection]]:
        return [[PlateDetection(BoxXYXY(*b.xyxy), b.score) for b in boxes] for boxes in self._model.predict(images)]

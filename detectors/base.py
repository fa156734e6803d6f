"""The detector interface: images in, boxes out. Every backend converts its library's output at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from rules.types import VehicleClass

ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class BoxXYXY:
    """Axis-aligned box in pixel coordinates of the full frame: (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x2 >= self.x1 and self.y2 >= self.y1):
            raise ValueError(f"degenerate box {self}")

    @property
    def width_px(self) -> float:
        return self.x2 - self.x1

    @property
    def height_px(self) -> float:
        return self.y2 - self.y1

    @property
    def area_px(self) -> float:
        return self.width_px * self.height_px

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def intersection_area(self, other: BoxXYXY) -> float:
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return max(0.0, w) * max(0.0, h)

    def iou(self, other: BoxXYXY) -> float:
        inter = self.intersection_area(other)
        union = self.area_px + other.area_px - inter
        return inter / union if union > 0 else 0.0

    def containment_in(self, other: BoxXYXY) -> float:
        """Fraction of this box's area that lies inside `other` (1.0 = fully inside)."""
        return self.intersection_area(other) / self.area_px if self.area_px > 0 else 0.0

    def expanded(self, ratio: float, width_px: int, height_px: int) -> BoxXYXY:
        """Grow by `ratio` of the box size on each side, clipped to the image."""
        dx, dy = self.width_px * ratio, self.height_px * ratio
        return BoxXYXY(max(0.0, self.x1 - dx), max(0.0, self.y1 - dy),
                       min(float(width_px), self.x2 + dx), min(float(height_px), self.y2 + dy))

    def as_int(self) -> tuple[int, int, int, int]:
        return int(self.x1), int(self.y1), round(self.x2), round(self.y2)


@dataclass(frozen=True)
class VehicleDetection:
    box: BoxXYXY
    score: float
    vehicle_class: VehicleClass


@dataclass(frozen=True)
class PlateDetection:
    box: BoxXYXY
    score: float


class VehicleDetector(Protocol):
    """Finds vehicles in a batch of frames (a batch may mix cameras)."""

    model_sha256: str

    def detect(self, images: Sequence[ImageBGR]) -> list[list[VehicleDetection]]: ...


class PlateDetector(Protocol):
    """Finds plates in a batch of frames."""

    model_sha256: str

    def detect(self, images: Sequence[ImageBGR]) -> list[list[PlateDetection]]: ...


def crop(image: ImageBGR, box: BoxXYXY) -> ImageBGR:
    """A view of the image inside the box (no copy); empty boxes give a 0-size array."""
    x1, y1, x2, y2 = box.as_int()
    return image[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]

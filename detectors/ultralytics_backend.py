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

from detectors.base import ImageBGR
from detectors.weights import WeightsError, check_pinned, sha256_of
from detectors.yolo_detectors import YoloPlateDetector, YoloVehicleDetector
from detectors.yolo_postprocess import RawBox

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class YoloSettings:
    weights: Path
    imgsz: int = 640
    conf: float = 0.25
    iou: float = 0.5
    device: str = "cpu"
    half: bool = False


class _YoloModel:
    """One loaded ultralytics model; `predict` returns plain boxes per image.

    ultralytics predictors keep per-call state, so calls are serialised with a lock; a pipeline gives each
    detector one owning thread anyway. ONNX files exported with a fixed batch of 1 are run image by image.
    """

    def __init__(self, settings: YoloSettings, task: str = "detect") -> None:
        from ultralytics.models import YOLO  # heavy import, deferred until a model is really needed

        if not settings.weights.is_file():
            raise WeightsError(f"model weights not found: {settings.weights} (run `make models`; from another "
                               "folder, set LEZ_STATE_DIR to the checkout's .state)")
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

    @property
    def class_count(self) -> int | None:
        """From a .pt checkpoint's class names; None for an exported file (its names may be ultralytics' default)."""
        return len(self._model.names) if self.settings.weights.suffix == ".pt" else None

    def predict(self, images: Sequence[ImageBGR], classes: frozenset[int] | None = None) -> list[list[RawBox]]:
        if not images:
            return []
        s = self.settings
        kwargs: dict[str, Any] = dict(imgsz=s.imgsz, conf=s.conf, iou=s.iou, device=s.device, half=s.half,
                                      verbose=False, classes=sorted(classes) if classes else None)
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


class UltralyticsVehicleDetector(YoloVehicleDetector):
    def __init__(self, settings: YoloSettings) -> None:
        super().__init__(_YoloModel(settings))


class UltralyticsPlateDetector(YoloPlateDetector):
    def __init__(self, settings: YoloSettings) -> None:
        super().__init__(_YoloModel(settings))

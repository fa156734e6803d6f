"""Vehicle and plate detectors straight on ONNX Runtime: no ultralytics/PyTorch on the frame path.

Why not ultralytics' own ONNX loader: on 2 CPU cores its per-call overhead (predictor set-up, torch tensors around
the ORT call, torchvision NMS) costs more than the network itself for a yolov8n at 640. Here one frame costs one
resize, one `blobFromImage` and one `session.run`; the maths is ultralytics' (see `yolo_postprocess`).

Execution providers come from the config: `device: cpu` → CPU; `device: cuda[:N]` → CUDA (and TensorRT first,
with fp16 when `half`, if `tensorrt: true`). A requested GPU provider that this onnxruntime build lacks is an
error, never a silent fall-back to the CPU. Models whose batch dimension is dynamic run a whole batch (frames of
several cameras) in one call; fixed batch-1 models run frame by frame.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import ImageBGR
from detectors.weights import WeightsError, check_pinned, sha256_of
from detectors.yolo_detectors import YoloPlateDetector, YoloVehicleDetector
from detectors.yolo_postprocess import Letterbox, RawBox, decode, letterbox, to_blob

STRIDE = 32  # YOLOv8's largest feature-map stride: a dynamic input must be a multiple of it


class DetectorBackendError(RuntimeError):
    """The configured backend cannot run here (missing provider, unusable model file)."""


@dataclass(frozen=True)
class OrtSettings:
    weights: Path
    imgsz: int = 640
    conf: float = 0.25
    iou: float = 0.5
    device: str = "cpu"
    half: bool = False
    tensorrt: bool = False
    threads: int = 2


def providers_for(settings: OrtSettings, available: Sequence[str]) -> list[Any]:
    """The ORT provider list for a device string; raises when the build lacks what the config asks for."""
    device = settings.device.lower()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if not device.startswith("cuda"):
        raise DetectorBackendError(f"onnxruntime backend: unknown device {settings.device!r} (cpu, cuda, cuda:N)")
    device_id = int(device.split(":", 1)[1]) if ":" in device else 0
    wanted: list[Any] = []
    if settings.tensorrt:
        wanted.append(("TensorrtExecutionProvider", {"device_id": device_id, "trt_fp16_enable": settings.half,
                                                      "trt_engine_cache_enable": True}))
    wanted.append(("CUDAExecutionProvider", {"device_id": device_id}))
    missing = [name for name, _ in wanted if name not in available]
    if missing:
        raise DetectorBackendError(f"onnxruntime has no {', '.join(missing)} (available: {', '.join(available)}); "
                                   "install onnxruntime-gpu or use device: cpu")
    return [*wanted, "CPUExecutionProvider"]


class OrtYoloModel:
    """One ONNX Runtime session of a YOLOv8 detection head; `predict` returns plain boxes per image."""

    def __init__(self, settings: OrtSettings) -> None:
        import onnxruntime as ort  # deferred: importing it costs time the CLI's --help should not pay

        if not settings.weights.is_file():
            raise WeightsError(f"model weights not found: {settings.weights} (run `make models`; from another "
                               "folder, set LEZ_STATE_DIR to the checkout's .state)")
        if settings.weights.suffix != ".onnx":
            raise DetectorBackendError(f"onnxruntime backend needs an .onnx file, got {settings.weights.name} "
                                       "(run `make models` to export it, or use type: ultralytics)")
        self.settings = settings
        self.sha256 = sha256_of(settings.weights)
        check_pinned(settings.weights, self.sha256)
        options = ort.SessionOptions()
        # Threads sized to the cores: ORT's default (one per core per session, plus spinning) fights the other
        # stages on a 2-core box. Spinning off: an idle detector must not burn the OCR's core.
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = providers_for(settings, ort.get_available_providers())
        try:
            self._session = ort.InferenceSession(str(settings.weights), sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own untyped errors (InvalidProtobuf, Fail, ...) on a bad file
            raise WeightsError(f"model file {settings.weights} cannot be loaded ({type(exc).__name__}): corrupt or "
                               "not a model — `lez-anpr fetch-models` re-extracts it and checks its sha256") from None
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._dtype = np.float16 if "float16" in model_input.type else np.float32
        batch, _, height, width = model_input.shape
        self.batched = not isinstance(batch, int)
        # A model with a dynamic input size runs ultralytics' rectangular letterbox (what the .pt does);
        # a fixed-size export gets the square it was exported for.
        self.rect = not isinstance(height, int) and not isinstance(width, int)
        self.imgsz = settings.imgsz if self.rect else int(height)
        if not self.rect and width != height:
            raise DetectorBackendError(f"{settings.weights.name}: only square inputs are supported, "
                                       f"got {width}x{height}")
        self._lock = threading.Lock()

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    @property
    def class_count(self) -> int | None:
        """From the output's shape (4 box values, then one score per class); a model whose shape is dynamic is
        run once on a blank 32 px square to see it."""
        channels = self._session.get_outputs()[0].shape[1]
        if not isinstance(channels, int):
            probe = np.zeros((1, 3, 32, 32) if self.rect else (1, 3, self.imgsz, self.imgsz), self._dtype)
            with self._lock:
                channels = int(self._session.run(None, {self._input_name: probe})[0].shape[1])
        return channels - 4

    def predict(self, images: Sequence[ImageBGR], classes: frozenset[int] | None = None) -> list[list[RawBox]]:
        if not images:
            return []
        fitted = [letterbox(image, self.imgsz, STRIDE if self.rect else None) for image in images]
        outputs: list[Any] = []
        same_shape = len({padded.shape for padded, _ in fitted}) == 1
        with self._lock:  # one session, one caller at a time (ORT is thread-safe, but threads would oversubscribe)
            if self.batched and same_shape:
                outputs.extend(self._run([padded for padded, _ in fitted]))
            else:
                for padded, _ in fitted:
                    outputs.extend(self._run([padded]))
        return [self._decode(out, fit, classes) for out, (_, fit) in zip(outputs, fitted, strict=True)]

    def _run(self, padded: list[Any]) -> Any:
        return self._session.run(None, {self._input_name: to_blob(padded, self._dtype)})[0]

    def _decode(self, output: Any, fit: Letterbox, classes: frozenset[int] | None) -> list[RawBox]:
        return decode(output, fit, self.settings.conf, self.settings.iou, classes)


class OrtVehicleDetector(YoloVehicleDetector):
    def __init__(self, settings: OrtSettings) -> None:
        super().__init__(OrtYoloModel(settings))


class OrtPlateDetector(YoloPlateDetector):
    def __init__(self, settings: OrtSettings) -> None:
        super().__init__(OrtYoloModel(settings))

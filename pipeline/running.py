"""`run` and `demo`: wire the pipeline to its sinks (Kafka through the durable outbox, optional JSONL copy)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from pipeline.app import LoadedConfig, load_config, run_pipeline, state_root
from pipeline.cli import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK
from pipeline.metrics import Counters
from pipeline.runtime import RunSummary, Status
from sinks.base import Sink
from sinks.fanout import FanoutSink
from sinks.jsonl import JsonlSink
from sinks.schema import TOPIC_CAMERA_HEALTH, TOPIC_REVIEW

log = logging.getLogger("lez_anpr")
ErrorScope = Callable[[], AbstractContextManager[None]]
FLUSH_TIMEOUT_S = 30.0


def _kafka_sink(bootstrap: str, loaded: LoadedConfig, outbox_path: Path) -> Sink:
    from sinks.kafka_sink import KafkaPublisher, OutboxKafkaSink, check_broker, ensure_topics
    from sinks.outbox import Outbox

    kafka = loaded.app.kafka
    topics = [kafka.violations_topic, kafka.plate_reads_topic, TOPIC_REVIEW, TOPIC_CAMERA_HEALTH]
    check_broker(bootstrap, timeout_s=5.0)
    ensure_topics(bootstrap, topics)
    outbox = Outbox(outbox_path, max_rows=loaded.app.storage.outbox_max_records)
    publisher = KafkaPublisher(outbox, bootstrap, topics=topics).start()
    return OutboxKafkaSink(outbox, publisher)


def _report(summary: RunSummary, counters: Counters, delivered: bool) -> int:
    c = counters
    report: dict[str, object] = {
        "status": summary.status.value, "frames": int(c.get("frames")), "passages": int(c.get("passages")),
        "reads": int(c.get("reads")), "unreadable": int(c.get("unreadable")),
        "violations": int(c.get("violations")), "dropped_frames": int(c.get("dropped_frames")),
        "decode_errors": int(c.get("decode_errors")), "delivered": delivered,
    }
    if summary.incomplete_sources:
        report["incomplete"] = summary.incomplete_sources
    if summary.error:
        report["error"] = summary.error
    print(json.dumps(report, sort_keys=True), flush=True)
    if summary.status is Status.FAILED:
        print(f"lez-anpr: pipeline failed: {summary.error}", file=sys.stderr)
        return EXIT_FAILED
    if summary.incomplete_sources:
        for camera, reason in summary.incomplete_sources.items():
            print(f"lez-anpr: camera {camera} incomplete: {reason}", file=sys.stderr)
        return EXIT_INCOMPLETE
    if not delivered:
        print("lez-anpr: not every message was delivered before the flush timeout; they stay in the outbox and "
              "are delivered by the next run", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _run(args: argparse.Namespace, errors: ErrorScope, bootstrap: str | None, outbox_path: Path | None) -> int:
    with errors():
        loaded = load_config(args.config)
        state = state_root(loaded.app)
        sinks: list[Sink] = []
        if getattr(args, "out", None) is not None:
            sinks.append(JsonlSink(args.out))
        if bootstrap is not None:
            sinks.append(_kafka_sink(bootstrap, loaded, outbox_path or state / "outbox.sqlite"))
        if not sinks:
            raise SystemExit("lez-anpr: nothing to publish to: give --out DIR or leave Kafka on")
        sink = FanoutSink(sinks)
        evidence_dir = getattr(args, "evidence_dir", None) or state / "evidence"
        try:
            summary, counters = run_pipeline(loaded, sink, source_override=args.source,
                                             camera_ids=getattr(args, "camera", None), evidence_dir=evidence_dir)
            delivered = sink.flush(FLUSH_TIMEOUT_S)
        finally:
            sink.close()
    return _report(summary, counters, delivered)


def run_with_sinks(args: argparse.Namespace, errors: ErrorScope) -> int:
    with errors():
        loaded = load_config(args.config)
    bootstrap = None if args.no_kafka else (args.bootstrap or loaded.app.kafka.bootstrap)
    return _run(args, errors, bootstrap, args.outbox)


def run_demo(args: argparse.Namespace, errors: ErrorScope) -> int:
    """The main job on its embedded defaults: a Tansu broker on 127.0.0.1, the sample clip, then the violations
    consumed back from Kafka and printed. The outbox is a fresh temporary one: the broker is memory-only."""
    from sinks.consume import consume
    from sinks.embedded_broker import EmbeddedBroker

    with errors():
        loaded = load_config(args.config)
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="lez-demo-") as tmp:
        print(f"embedded Kafka broker (Tansu) on {broker.bootstrap}", file=sys.stderr)
        run_args = argparse.Namespace(config=args.config, source=args.source, camera=None, out=Path(tmp) / "jsonl",
                                      evidence_dir=None)
        code = _run(run_args, errors, broker.bootstrap, Path(tmp) / "outbox.sqlite")
        topic = loaded.app.kafka.violations_topic
        print(f"--- violations consumed back from {topic} ---", file=sys.stderr)
        stats = consume(broker.bootstrap, topic, from_beginning=True, max_idle_s=4.0)
        print(f"--- {stats.valid} violation(s), {stats.invalid} invalid, {stats.duplicates} duplicate(s) ---",
              file=sys.stderr)
    return code if stats.invalid == 0 else EXIT_FAILED

"""`run` and `demo`: wire the pipeline to its sinks (Kafka through the durable outbox, optional JSONL copy), with
camera health, the health endpoint and graceful shutdown around it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.app import LoadedConfig, build_pipeline, load_config, require_detectors, state_root
from pipeline.cli import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK
from pipeline.metrics import Counters
from pipeline.runtime import Pipeline, RunSummary, Status
from pipeline.shutdown import ShutdownSignals
from sinks.base import Sink
from sinks.fanout import FanoutSink
from sinks.jsonl import JsonlSink
from sinks.schema import TOPIC_CAMERA_HEALTH, TOPIC_REVIEW

if TYPE_CHECKING:
    from sinks.kafka_sink import OutboxKafkaSink

log = logging.getLogger("lez_anpr")
ErrorScope = Callable[[], AbstractContextManager[None]]


def open_kafka_sink(bootstrap: str, loaded: LoadedConfig, outbox_path: Path) -> OutboxKafkaSink:
    from sinks.kafka_sink import KafkaPublisher, OutboxKafkaSink, check_broker, ensure_topics
    from sinks.outbox import Outbox

    kafka = loaded.app.kafka
    topics = [kafka.violations_topic, kafka.plate_reads_topic, TOPIC_REVIEW, TOPIC_CAMERA_HEALTH]
    check_broker(bootstrap, timeout_s=5.0)
    ensure_topics(bootstrap, topics)
    outbox = Outbox(outbox_path, max_rows=loaded.app.storage.outbox_max_records)
    if outbox.pending():
        log.info("outbox %s: %d message(s) from an earlier run, delivering them first", outbox_path,
                 outbox.pending())
    publisher = KafkaPublisher(outbox, bootstrap, topics=topics).start()
    return OutboxKafkaSink(outbox, publisher)


def _report(summary: RunSummary, counters: Counters, delivered: bool, stopped_by: str | None = None) -> int:
    c = counters
    report: dict[str, object] = {
        "status": summary.status.value, "frames": int(c.get("frames")), "passages": int(c.get("passages")),
        "reads": int(c.get("reads")), "unreadable": int(c.get("unreadable")),
        "violations": int(c.get("violations")), "dropped_frames": int(c.get("dropped_frames")),
        "decode_errors": int(c.get("decode_errors")), "delivered": delivered,
    }
    if stopped_by:
        report["stopped_by"] = stopped_by
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


def supervise(loaded: LoadedConfig, pipeline: Pipeline, sink: Sink, counters: Counters,
              kafka: OutboxKafkaSink | None) -> tuple[RunSummary, bool, str | None]:
    """Run the pipeline with camera health, the HTTP health endpoint and signal handling around it.

    Stop order on SIGTERM/SIGINT: sources stop → the stages drain (bounded by runtime.stop_timeout_s) → a last
    camera-health report → the sinks flush (bounded by runtime.flush_timeout_s) → the caller closes them."""
    from pipeline.health import HasStats, HealthMonitor, HealthServer, OutboxDelivery

    app = loaded.app
    watched = [s for s in pipeline.sources if isinstance(s, HasStats)]
    monitor = HealthMonitor(watched, sink, counters, site_id=app.site_id,
                            interval_s=app.health.publish_interval_s, stale_after_s=app.health.stale_after_s,
                            delivery=OutboxDelivery(kafka.outbox, kafka.publisher, lambda: kafka.degraded)
                            if kafka else None,
                            alive=lambda: pipeline.status not in (Status.FAILED, Status.STOPPED),
                            running=lambda: pipeline.status is Status.RUNNING)
    server = HealthServer(monitor, counters, app.health.host, app.health.port) if app.health.port is not None \
        else None
    with ShutdownSignals(pipeline.stop) as signals:
        monitor.start()
        if server is not None:
            server.start()  # logs its address (port 0 = ephemeral)
        try:
            summary = pipeline.run(join_timeout_s=app.runtime.stop_timeout_s)
            monitor.stop()
            monitor.publish_once()  # the last word on each camera, delivered with the rest
            delivered = sink.flush(app.runtime.flush_timeout_s)
        finally:
            monitor.stop()
            if server is not None:
                server.stop()
    if signals.received:
        for source in pipeline.sources:
            state = getattr(getattr(source, "stats", None), "state", "ended")
            if not source.live and state != "ended" and source.camera_id not in summary.incomplete_sources:
                summary.incomplete_sources[source.camera_id] = f"stopped by {signals.received} before the end"
    return summary, delivered, signals.received


def _run(args: argparse.Namespace, errors: ErrorScope, bootstrap: str | None, outbox_path: Path | None) -> int:
    with errors():
        loaded = load_config(args.config)
        state = state_root(loaded.app)
        sinks: list[Sink] = []
        if getattr(args, "out", None) is not None:
            sinks.append(JsonlSink(args.out))
        kafka = None
        if bootstrap is not None:
            kafka = open_kafka_sink(bootstrap, loaded, outbox_path or state / "outbox.sqlite")
            sinks.append(kafka)
        if not sinks:
            raise SystemExit("lez-anpr: nothing to publish to: give --out DIR or leave Kafka on")
        sink = FanoutSink(sinks)
        evidence_dir = getattr(args, "evidence_dir", None) or state / "evidence"
        counters = Counters()
        try:
            pipeline = build_pipeline(loaded, sink, source_override=args.source,
                                      camera_ids=getattr(args, "camera", None), evidence_dir=evidence_dir,
                                      counters=counters)
            summary, delivered, stopped_by = supervise(loaded, pipeline, sink, counters, kafka)
        finally:
            sink.close()
    _warn_lingering_threads()
    return _report(summary, counters, delivered, stopped_by)


def _warn_lingering_threads() -> None:
    """Every join has a timeout, so a stuck thread is possible: say so (they are daemons and end with us)."""
    lingering = [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
                 and (t.name.startswith("lez-") or t.name == "kafka-publisher")]
    if lingering:
        log.warning("threads still running at exit (daemons, they end with the process): %s", lingering)


def run_with_sinks(args: argparse.Namespace, errors: ErrorScope) -> int:
    with errors():
        loaded = load_config(args.config)
        require_detectors(loaded)
    bootstrap = None if args.no_kafka else (args.bootstrap or loaded.app.kafka.bootstrap)
    return _run(args, errors, bootstrap, args.outbox)


def run_demo(args: argparse.Namespace, errors: ErrorScope) -> int:
    """The main job on its embedded defaults: a Tansu broker on 127.0.0.1, the sample clip, then the violations
    consumed back from Kafka and printed. The outbox is a fresh temporary one: the broker is memory-only."""
    from sinks.consume import consume
    from sinks.embedded_broker import EmbeddedBroker

    with errors():
        loaded = load_config(args.config)
        require_detectors(loaded)
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

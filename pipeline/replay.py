"""`lez-anpr replay`: process a recording for an audit — lossless, deterministic, stamped with footage time, published
only to the audit topics, and written to a self-contained audit folder a person can read.

Audit folder (`--out DIR`):

    report.html            timeline + one card per passage (crops, read, candidates, colour, registry facts,
                           decision, policy, legal reference, evidence hashes)
    passages.jsonl / .csv  the same rows, for machines and spreadsheets
    messages/*.jsonl       the exact messages published (`lez.plate-reads.audit.v1`, `lez.violations.audit.v1`)
    evidence/              frames and crops, content-addressed (`<sha[:2]>/<sha>.jpg`) — the folder is self-contained
    manifest.json          recording sha256, config hash, model hashes, software version, sha256 of every file
    checkpoint.json        only while unfinished: where a rerun of the same command resumes
    outbox.sqlite          only with --bootstrap: the durable outbox in front of Kafka

Kafka: only with `--bootstrap` (the config's bootstrap is ignored on purpose: an audit on a laptop must not publish
to whatever cluster a copied box config names). The live topics are never used: the topics are fixed here.

Determinism: event time is container timestamp + `--start-time`; ids are uuid5s of (camera, track, first seen);
frames are never dropped. Two replays give the same messages except `processed_at_utc` and `published_at`
(wall-clock by definition, see `VOLATILE_FIELDS`), and byte-identical report files.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from pipeline import replay_checkpoint as cp
from pipeline.app import SOFTWARE_VERSION, LoadedConfig, RunHooks, run_pipeline
from pipeline.audit_manifest import EVIDENCE_DIR, MANIFEST_NAME, MESSAGES_DIR, write_manifest
from pipeline.audit_report import ReplayFacts, build_rows, summary_counts, write_reports
from pipeline.config import resolve_relative
from pipeline.emit import SiteFacts, Topics
from pipeline.metrics import Counters
from pipeline.progress import ProgressBar
from pipeline.replay_parts import Checkpointer, GateSink, ResumingSource
from pipeline.runtime import FrameSource, RunSummary, Status
from pipeline.sources import SourceError, is_stream_url
from sinks.base import Sink
from sinks.evidence import sha256_file
from sinks.fanout import FanoutSink
from sinks.jsonl import JsonlSink
from sinks.schema import TOPIC_PLATE_READS_AUDIT, TOPIC_VIOLATIONS_AUDIT

log = logging.getLogger(__name__)

AUDIT_TOPICS = (TOPIC_PLATE_READS_AUDIT, TOPIC_VIOLATIONS_AUDIT)
VOLATILE_FIELDS = frozenset({"processed_at_utc", "published_at"})  # wall-clock; everything else is reproducible
FLUSH_TIMEOUT_S = 30.0


class ReplayError(ValueError):
    """A replay that cannot start (bad folder, unknown camera); one line for the operator, and its exit code."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ReplayRequest:
    recording: Path
    camera_id: str
    start_time: datetime
    out_dir: Path
    bootstrap: str | None = None
    progress: bool = True
    checkpoint_every_s: float = 5.0


@dataclass(frozen=True)
class ReplayOutcome:
    status: str  # complete | incomplete | interrupted | failed
    summary: dict[str, Any]


def deterministic_payload(message: dict[str, Any]) -> dict[str, Any]:
    """A published message without its wall-clock fields: equal across replays of the same footage."""
    return {k: v for k, v in message.items() if k not in VOLATILE_FIELDS}


def _replay_config(loaded: LoadedConfig, req: ReplayRequest) -> LoadedConfig:
    """The config with its camera pointed at the recording and the footage start time (nothing else changes)."""
    cameras = [c for c in loaded.app.cameras if c.id == req.camera_id]
    if not cameras:
        known = ", ".join(c.id for c in loaded.app.cameras)
        raise ReplayError(f"camera {req.camera_id!r} is not in {loaded.path} (cameras: {known}); its gateway line "
                          f"and zone come from the config", exit_code=2)
    camera = cameras[0].model_copy(update={"source": str(req.recording.resolve()), "start_time": req.start_time})
    app = loaded.app.model_copy(update={"cameras": (camera,)})
    return LoadedConfig(app, loaded.rules, loaded.registry, loaded.config_sha256, loaded.path)


def _registry_sha256(loaded: LoadedConfig) -> str | None:
    if not loaded.rules.registry_path:
        return None
    rules_path = resolve_relative(loaded.path, loaded.app.rules_file)
    return sha256_file(resolve_relative(rules_path, loaded.rules.registry_path))


def _prepare_folder(req: ReplayRequest, identity: cp.ReplayIdentity) -> cp.Checkpoint:
    """A fresh folder, or the checkpoint of an interrupted replay of the same recording (rewound to it)."""
    out, messages = req.out_dir, req.out_dir / MESSAGES_DIR
    if (out / MANIFEST_NAME).exists():
        raise ReplayError(f"{out} already holds a finished audit ({MANIFEST_NAME}); choose a new --out folder")
    if out.exists() and not (out / cp.CHECKPOINT_NAME).exists() and any(out.iterdir()):
        raise ReplayError(f"{out} is not empty and holds no replay checkpoint; choose a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    path = out / cp.CHECKPOINT_NAME
    if path.exists():
        checkpoint = cp.load(path)
        cp.check_identity(checkpoint, identity, path)
        cp.rewind_messages(messages, checkpoint)
        checkpoint = cp.Checkpoint(checkpoint.identity, checkpoint.next_seq, checkpoint.next_track_id,
                                   checkpoint.message_bytes, checkpoint.dropped_frames, checkpoint.runs + 1)
        print(f"lez-anpr: resuming the replay at frame {checkpoint.next_seq} (checkpoint in {path})",
              file=sys.stderr)
    else:
        messages.mkdir(parents=True, exist_ok=True)
        checkpoint = cp.Checkpoint(identity)
    cp.save(path, checkpoint)
    return checkpoint


def _audit_kafka_sink(bootstrap: str, loaded: LoadedConfig, outbox_path: Path) -> Sink:
    from sinks.kafka_sink import KafkaPublisher, OutboxKafkaSink, check_broker, ensure_topics
    from sinks.outbox import Outbox

    check_broker(bootstrap, timeout_s=5.0)
    ensure_topics(bootstrap, AUDIT_TOPICS)
    outbox = Outbox(outbox_path, max_rows=loaded.app.storage.outbox_max_records)
    publisher = KafkaPublisher(outbox, bootstrap, topics=AUDIT_TOPICS).start()
    return OutboxKafkaSink(outbox, publisher)


@contextmanager
def _interruptible(gate: GateSink) -> Iterator[list[str]]:
    """SIGINT and SIGTERM close the gate and stop the pipeline cleanly (Pipeline.run stops on KeyboardInterrupt);
    the checkpoint on disk then says where a rerun continues. Yields the list the signal names are put in."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        gate.close_gate()
        if len(received) == 1:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _read_messages(messages_dir: Path, topic: str) -> list[dict[str, Any]]:
    path = messages_dir / f"{topic}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _prune_orphan_evidence(out_dir: Path, rows: list[dict[str, Any]]) -> int:
    """Images written after the last checkpoint of an interrupted run that no message refers to."""
    referenced = {e["path"] for r in rows for e in r["evidence"]}
    removed = 0
    for path in sorted((out_dir / EVIDENCE_DIR).rglob("*.jpg")):
        if path.relative_to(out_dir).as_posix() not in referenced:
            path.unlink()
            removed += 1
    return removed


def _finish(req: ReplayRequest, loaded: LoadedConfig, source: ResumingSource, site: SiteFacts,
            summary: RunSummary, checkpoint: cp.Checkpoint, counters: Counters, wall_s: float,
            delivered: bool) -> ReplayOutcome:
    messages = req.out_dir / MESSAGES_DIR
    rows = build_rows(_read_messages(messages, TOPIC_PLATE_READS_AUDIT),
                      _read_messages(messages, TOPIC_VIOLATIONS_AUDIT), req.start_time)
    stop_reason = summary.incomplete_sources.get(req.camera_id, "")
    if stop_reason and source.last_event_time is not None:
        offset = (source.last_event_time - req.start_time).total_seconds()
        stop_reason += f"; last good frame {source.position - 1} at footage {offset:.3f} s"
    dropped = checkpoint.dropped_frames + int(counters.get("dropped_frames"))
    facts = ReplayFacts(
        input_name=req.recording.name, input_sha256=checkpoint.identity.input_sha256, camera_id=req.camera_id,
        start_time=req.start_time, config_sha256=loaded.config_sha256, software_version=SOFTWARE_VERSION,
        models=dict(site.model_hashes), topics=AUDIT_TOPICS if req.bootstrap else (), complete=not stop_reason,
        stop_reason=stop_reason, frames_decoded=source.position, frames_declared=source.total_frames,
        last_frame_time=source.last_event_time, decode_errors=source.decode_errors, dropped_frames=dropped)
    _prune_orphan_evidence(req.out_dir, rows)
    report_files = write_reports(req.out_dir, rows, facts)
    counts = summary_counts(rows)
    status = "complete" if facts.complete else "incomplete"
    result = {"status": status, "stop_reason": stop_reason, "frames_decoded": source.position,
              "frames_declared": source.total_frames, "decode_errors": source.decode_errors,
              "dropped_frames": dropped, **counts}
    manifest_facts = {
        "input": {"path": str(req.recording.resolve()), "name": req.recording.name,
                  "sha256": checkpoint.identity.input_sha256, "bytes": req.recording.stat().st_size},
        "replay": {"camera_id": req.camera_id, "start_time": req.start_time.isoformat(),
                   "topics": list(facts.topics), "delivered": delivered},
        "config": {"path": str(loaded.path.resolve()), "sha256": loaded.config_sha256,
                   "registry_sha256": _registry_sha256(loaded)},
        "models": dict(sorted(site.model_hashes.items())), "software_version": SOFTWARE_VERSION,
        "result": result,
        "run": {"runs": checkpoint.runs, "wall_s_last_run": round(wall_s, 1),
                "finished_at_utc": datetime.now(UTC).isoformat(timespec="seconds")},
    }
    write_manifest(req.out_dir, manifest_facts, report_files)
    (req.out_dir / cp.CHECKPOINT_NAME).unlink(missing_ok=True)
    return ReplayOutcome(status, {**result, "delivered": delivered, "wall_s": round(wall_s, 1),
                                  "out": str(req.out_dir)})


def run_replay(loaded: LoadedConfig, req: ReplayRequest) -> ReplayOutcome:
    if is_stream_url(str(req.recording)):
        raise ReplayError("replay takes a recorded file or image folder, not a stream URL")
    if not req.recording.exists():
        raise SourceError(f"recording not found: {req.recording}")
    replay_loaded = _replay_config(loaded, req)
    identity = cp.ReplayIdentity(
        input_sha256=sha256_file(req.recording) if req.recording.is_file() else "",
        config_sha256=loaded.config_sha256, camera_id=req.camera_id, start_time=req.start_time.isoformat(),
        software_version=SOFTWARE_VERSION)
    checkpoint = _prepare_folder(req, identity)
    jsonl = JsonlSink(req.out_dir / MESSAGES_DIR)
    sinks: list[Sink] = [jsonl]
    if req.bootstrap is not None:
        sinks.append(_audit_kafka_sink(req.bootstrap, replay_loaded, req.out_dir / "outbox.sqlite"))
    gate = GateSink(FanoutSink(sinks))
    counters = Counters()
    wrapped: list[ResumingSource] = []
    sites: list[SiteFacts] = []

    def wrap(source: FrameSource) -> FrameSource:
        wrapped.append(ResumingSource(source, checkpoint.next_seq))
        return wrapped[-1]

    checkpointer = Checkpointer(req.out_dir / cp.CHECKPOINT_NAME, req.out_dir / MESSAGES_DIR, checkpoint, jsonl,
                                gate, counters, req.checkpoint_every_s)
    hooks = RunHooks(wrap_source=wrap, first_track_id=checkpoint.next_track_id, on_idle=checkpointer,
                     on_site=sites.append, discard_on_stop=True)
    started = time.monotonic()
    try:
        with _interruptible(gate) as signals, _progress(req, wrapped, counters):
            try:
                summary, _ = run_pipeline(replay_loaded, gate, camera_ids=[req.camera_id],
                                          topics=Topics(TOPIC_VIOLATIONS_AUDIT, TOPIC_PLATE_READS_AUDIT, None),
                                          evidence_dir=req.out_dir / EVIDENCE_DIR, counters=counters, hooks=hooks)
            except KeyboardInterrupt:  # a signal before the pipeline's own loop (e.g. while models load)
                summary = RunSummary(Status.STOPPED)
        delivered = gate.flush(FLUSH_TIMEOUT_S)
    finally:
        gate.close()
    wall_s = time.monotonic() - started
    if signals:
        last = checkpointer.last
        return ReplayOutcome("interrupted", {
            "status": "interrupted", "signal": signals[0], "resume_from_frame": last.next_seq,
            "frames_decoded": wrapped[0].position if wrapped else 0, "wall_s": round(wall_s, 1),
            "out": str(req.out_dir)})
    if summary.status is Status.FAILED:
        return ReplayOutcome("failed", {"status": "failed", "error": summary.error, "out": str(req.out_dir)})
    return _finish(req, loaded, wrapped[0], sites[0], summary, checkpointer.last, counters, wall_s, delivered)


@contextmanager
def _progress(req: ReplayRequest, wrapped: list[ResumingSource], counters: Counters) -> Iterator[None]:
    """The bar counts frames *tracked* (decoding runs ahead by the queues' length), from the resume point on.
    It starts once the source exists (run_pipeline builds it); a watcher thread waits for it."""
    if not req.progress:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        while not wrapped and not stop.wait(0.2):
            pass
        if wrapped:
            source = wrapped[0]

            def done() -> int:
                processed = counters.get("stage_calls", stage="track") + counters.get("frames_skipped_by_stride")
                return source.start_seq + int(processed)

            with ProgressBar(done, source.total_frames):
                stop.wait()

    thread = threading.Thread(target=watch, name="lez-progress-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=3.0)

"""Read a topic back, validate every message against its schema model, de-duplicate, and print it.

``python -m sinks.consume --bootstrap 127.0.0.1:9092 --topic lez.violations.v1 [--from-beginning] [--json]``

Malformed bytes and schema violations are counted and reported on `err` (stderr), never a crash, and kept raw in
the `rejects` file when one is given; the summary line is printed by the CLI only (callers print their own from
the returned ConsumeStats). `export` appends every new valid message to a JSONL or CSV file (sinks.export),
de-duplicated by violation_id / message_id across runs. Stops after
``max_idle_s`` without a message. With Tansu, ``from_beginning=False`` ('latest') may be off by up to one batch,
and a consumer group join costs session_timeout/2; without a group id no join happens (the default here).
Output goes to the operator's terminal and contains plate text: do not redirect it into shared logs.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kafka import KafkaConsumer
from pydantic import BaseModel, ValidationError

from sinks.export import Exporter
from sinks.schema import ViolationMessageV1, dedup_id, model_for_topic

COMMIT_EVERY = 100  # records between offset commits of a consumer group (and once at the end)


@dataclass
class ConsumeStats:
    received: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    unvalidated: int = 0  # topics without a schema model here (camera health): JSON-checked only
    exported: int = 0
    ids: set[str] = field(default_factory=set, repr=False)
    rejects: TextIO | None = field(default=None, repr=False)  # where malformed records are kept (raw, base64)

    @property
    def unique(self) -> int:
        return len(self.ids)


def human_line(message: BaseModel) -> str:
    data: dict[str, Any] = message.model_dump(mode="json")
    plate = data["plate"]["text"] or "<unreadable>"
    parts = [
        data["captured_at_local"],
        data["camera_id"],
        data["direction"],
        data["vehicle_class"],
        plate,
        data["plate"]["colour"],
        data["decision"]["outcome"],
    ]
    if isinstance(message, ViolationMessageV1):
        parts += [message.policy_id, message.action.value, str(message.violation_id)]
    else:
        parts.append(data["message_id"])
    return " ".join(str(p) for p in parts)


def handle_record(
    topic: str, value: bytes | None, stats: ConsumeStats, as_json: bool, out: TextIO, err: TextIO, where: str = ""
) -> BaseModel | None:
    """Validate, de-duplicate and print one record (pure of Kafka, so it is unit-testable).

    Returns the message when it is valid and new (the caller exports it), else None."""
    stats.received += 1
    model = model_for_topic(topic)
    if value is None:
        _invalid(stats, err, where, "empty value", value)
        return None
    if model is None:
        try:
            data = json.loads(value)
        except ValueError as exc:
            _invalid(stats, err, where, f"not JSON ({exc})", value)
            return None
        stats.unvalidated += 1
        print(json.dumps(data, sort_keys=True) if as_json else f"{topic} {data}", file=out)
        return None
    try:
        message = model.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "<root>"
        _invalid(stats, err, where, f"{exc.error_count()} schema error(s), first at {loc}: {first['msg']}", value)
        return None
    ident = dedup_id(message)
    if ident in stats.ids:
        stats.duplicates += 1
        return None
    stats.ids.add(ident)
    stats.valid += 1
    print(message.model_dump_json() if as_json else human_line(message), file=out)
    return message


def _invalid(stats: ConsumeStats, err: TextIO, where: str, problem: str, value: bytes | None) -> None:
    stats.invalid += 1
    print(f"invalid {where}: {problem}", file=err)
    if stats.rejects is not None:
        raw = base64.b64encode(value).decode("ascii") if value is not None else None
        stats.rejects.write(json.dumps({"where": where, "problem": problem, "value_b64": raw}) + "\n")
        stats.rejects.flush()


def consume(
    bootstrap: str,
    topic: str,
    from_beginning: bool = True,
    max_idle_s: float = 5.0,
    as_json: bool = False,
    group_id: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    max_messages: int | None = None,
    export: Path | None = None,
    rejects: Path | None = None,
) -> ConsumeStats:
    """Read `topic` until `max_idle_s` passes without a record (or `max_messages`).

    With a `group_id` offsets are committed only after the records are exported (at-least-once); a restarted
    consumer of the same group continues where the last commit left off, and the export's own ids (read back on
    open) keep a record re-delivered after a crash from being written twice."""
    stats = ConsumeStats()
    exporter = Exporter(export) if export is not None else None
    if exporter is not None:
        stats.ids |= exporter.seen_ids  # already exported by an earlier run: a re-delivery is a duplicate
    reject_file = rejects.open("a", encoding="utf-8") if rejects is not None else None
    stats.rejects = reject_file
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id="lez-anpr-consume",
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    try:
        for record in _records_until_idle(consumer, max_idle_s):
            message = handle_record(topic, record.value, stats, as_json, out, err,
                                    where=f"{record.topic}[{record.partition}]@{record.offset}")
            if message is not None and exporter is not None:
                stats.exported += int(exporter.write(message))
            if group_id is not None and stats.received % COMMIT_EVERY == 0:
                consumer.commit()
            if max_messages is not None and stats.received >= max_messages:
                break
        if group_id is not None and stats.received:
            consumer.commit()
    finally:
        consumer.close()
        if exporter is not None:
            exporter.close()
        if reject_file is not None:
            reject_file.close()
        stats.rejects = None
    return stats


JOIN_GRACE_S = 20.0  # joining a group takes session_timeout/2 on Tansu, longer on a busy cluster


def _records_until_idle(consumer: KafkaConsumer, max_idle_s: float) -> Iterator[Any]:
    """Records until `max_idle_s` pass without one, counted from when partitions are assigned.

    kafka-python's `consumer_timeout_ms` counts from the first poll, so a group consumer whose join takes longer
    than the idle time gave up before it had seen a single record."""
    idle_since: float | None = None
    join_deadline = time.monotonic() + max_idle_s + JOIN_GRACE_S
    while True:
        batch = consumer.poll(timeout_ms=200)
        for records in batch.values():
            yield from records
        now = time.monotonic()
        if batch:
            idle_since = now
        elif consumer.assignment():
            idle_since = idle_since or now
            if now - idle_since >= max_idle_s:
                return
        elif now >= join_deadline:
            return


def summary_line(topic: str, stats: ConsumeStats) -> str:
    return (f"consumed {stats.received} from {topic}: {stats.valid} valid, {stats.duplicates} duplicate, "
            f"{stats.invalid} invalid, {stats.unvalidated} unvalidated, {stats.exported} exported")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinks.consume", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--max-idle-s", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", dest="as_json")
    parser.add_argument("--group-id", default=None)
    parser.add_argument("--export", type=Path, default=None)
    parser.add_argument("--rejects", type=Path, default=None)
    args = parser.parse_args(argv)
    from sinks.kafka_sink import BrokerUnavailable, check_broker

    try:
        check_broker(args.bootstrap, timeout_s=5.0)
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stats = consume(args.bootstrap, args.topic, args.from_beginning, args.max_idle_s, args.as_json, args.group_id,
                    export=args.export, rejects=args.rejects)
    print(summary_line(args.topic, stats), file=sys.stderr)
    return 1 if stats.invalid else 0


if __name__ == "__main__":
    raise SystemExit(main())

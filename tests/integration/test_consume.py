"""`consume` against the real embedded broker: consumer group offsets, de-duplication by violation_id across runs,
CSV/JSONL export, malformed records counted and kept (never a crash)."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from kafka import KafkaProducer

from sinks.consume import consume
from sinks.embedded_broker import EmbeddedBroker
from sinks.kafka_sink import ensure_topics
from sinks.schema import TOPIC_VIOLATIONS, ViolationMessageV1, build_violation_message, message_key
from tests.unit.test_schema import make_ctx, make_decision, make_passage

pytestmark = pytest.mark.integration


def _violation(track_id: int) -> ViolationMessageV1:
    return build_violation_message(make_passage(track_id=track_id), make_decision(), make_ctx())


def _produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    try:
        for key, value in records:
            producer.send(TOPIC_VIOLATIONS, key=key, value=value)
        producer.flush(30)
    finally:
        producer.close(5)


def _record(message: ViolationMessageV1) -> tuple[bytes, bytes]:
    return message_key(TOPIC_VIOLATIONS, message), message.model_dump_json().encode()


def test_group_export_dedup_and_malformed(fresh_broker: EmbeddedBroker, tmp_path: Path) -> None:
    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap, [TOPIC_VIOLATIONS])
    violations = [_violation(i) for i in range(20)]
    forged = json.loads(violations[0].model_dump_json()) | {"violation_id": "00000000-0000-5000-8000-000000000000"}
    malformed = [(b"junk", b"\xff\x00 not json"), (b"junk", b'{"schema_version": "1.0"}'),
                 (b"forged", json.dumps(forged).encode())]
    _produce(bootstrap, [*map(_record, violations), *map(_record, violations[:5]), *malformed])

    export, rejects, err = tmp_path / "dc" / "violations.csv", tmp_path / "rejects.jsonl", StringIO()
    stats = consume(bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=8, group_id="data-centre",
                    out=StringIO(), err=err, export=export, rejects=rejects)
    assert (stats.received, stats.valid, stats.duplicates, stats.invalid, stats.exported) == (28, 20, 5, 3, 20)
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    assert sorted(r["violation_id"] for r in rows) == sorted(str(v.violation_id) for v in violations)
    assert {r["plate_text"] for r in rows} == {"30A12345"} and rows[0]["action"] == "warn"
    assert rows[0]["evidence"].startswith("frame:")
    kept = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(kept) == 3 and err.getvalue().count("invalid") == 3
    assert "violation_id does not match" in kept[2]["problem"]

    # Same group again: offsets were committed after the export, nothing is re-read.
    again = consume(bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=8, group_id="data-centre",
                    out=StringIO(), err=StringIO(), export=export)
    assert (again.received, again.exported) == (0, 0)

    # New records plus a re-delivered old one (at-least-once): only the new ones reach the export.
    _produce(bootstrap, [_record(_violation(100)), _record(_violation(101)), _record(violations[3])])
    more = consume(bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=8, group_id="data-centre",
                   out=StringIO(), err=StringIO(), export=export)
    assert (more.received, more.valid, more.duplicates, more.exported) == (3, 2, 1, 2)
    assert len(list(csv.DictReader(export.open(encoding="utf-8")))) == 22

    # Another group reads everything from the beginning into JSONL: 22 unique violations, each a valid message.
    jsonl = tmp_path / "violations.jsonl"
    other = consume(bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=8, group_id="archive",
                    out=StringIO(), err=StringIO(), export=jsonl)
    assert (other.received, other.exported, other.invalid) == (31, 22, 3)
    lines = jsonl.read_text().splitlines()
    assert len({ViolationMessageV1.model_validate_json(line).violation_id for line in lines}) == 22


def test_group_join_slower_than_idle_time_still_reads(fresh_broker: EmbeddedBroker) -> None:
    """A group join takes session_timeout/2 (3 s) on Tansu: a 1 s idle time must count from the assignment."""
    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap, [TOPIC_VIOLATIONS])
    _produce(bootstrap, [_record(_violation(i)) for i in range(3)])
    stats = consume(bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=1, group_id="slow-join",
                    out=StringIO(), err=StringIO())
    assert (stats.received, stats.valid) == (3, 3)

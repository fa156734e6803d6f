"""Outbox → publisher → real (embedded Tansu) broker → consume, validate, de-duplicate; broker crash and restart."""

from __future__ import annotations

import time
from collections import defaultdict
from io import StringIO
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from sinks.consume import consume
from sinks.embedded_broker import EmbeddedBroker, free_port
from sinks.kafka_sink import BrokerUnavailable, KafkaPublisher, OutboxKafkaSink, check_broker, ensure_topics
from sinks.outbox import Outbox
from sinks.schema import (
    TOPIC_PLATE_READS,
    TOPIC_VIOLATIONS,
    PlateReadMessageV1,
    ViolationMessageV1,
    build_plate_read_message,
    build_violation_message,
    message_key,
)
from tests.unit.test_schema import make_ctx, make_decision, make_passage

pytestmark = pytest.mark.integration
TOPICS = (TOPIC_VIOLATIONS, TOPIC_PLATE_READS)


def _violation(track_id: int) -> ViolationMessageV1:
    return build_violation_message(make_passage(track_id=track_id), make_decision(), make_ctx())


def _plate_read(track_id: int, camera: str) -> PlateReadMessageV1:
    passage = make_passage(track_id=track_id, camera_id=camera, offset_s=track_id)
    return build_plate_read_message(passage, make_decision(violation=False), make_ctx())


def _sink(tmp_path: Path, bootstrap: str, **kwargs: int) -> OutboxKafkaSink:
    outbox = Outbox(tmp_path / "outbox.db")
    publisher = KafkaPublisher(outbox, bootstrap, topics=TOPICS, **kwargs).start()  # type: ignore[arg-type]
    return OutboxKafkaSink(outbox, publisher)


def test_check_broker_reports_unreachable_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"unreachable at 127\.0\.0\.1:\d+"):
        check_broker(f"127.0.0.1:{free_port()}", timeout_s=1.0)
    assert time.monotonic() - start < 5.0


def test_ensure_topics_creates_and_is_idempotent(kafka_broker: EmbeddedBroker) -> None:
    ensure_topics(kafka_broker.bootstrap, ["lez.test.ensure.v1"])
    ensure_topics(kafka_broker.bootstrap, ["lez.test.ensure.v1", "lez.test.ensure2.v1"])
    check_broker(kafka_broker.bootstrap, timeout_s=2.0)


def test_roundtrip_validates_dedups_and_keeps_per_camera_order(fresh_broker: EmbeddedBroker, tmp_path: Path) -> None:
    kafka_broker = fresh_broker  # counts every message on the topic: no other test's messages
    sink = _sink(tmp_path, kafka_broker.bootstrap)
    try:
        violations = [_violation(i) for i in range(5)]
        reads = [_plate_read(i, f"cam-{i % 3}") for i in range(30)]
        for msg in violations:
            sink.publish(TOPIC_VIOLATIONS, message_key(TOPIC_VIOLATIONS, msg), msg)
            sink.publish(TOPIC_VIOLATIONS, message_key(TOPIC_VIOLATIONS, msg), msg)  # outbox de-dups while pending
        for read in reads:
            sink.publish(TOPIC_PLATE_READS, message_key(TOPIC_PLATE_READS, read), read)
        assert sink.flush(30.0)
        # Re-publication after delivery (e.g. a replay) reaches the broker again: the consumer must de-dup.
        sink.publish(TOPIC_VIOLATIONS, message_key(TOPIC_VIOLATIONS, violations[0]), violations[0])
        sink.outbox.put(TOPIC_VIOLATIONS, b"junk", b"\x00not json", "junk-1")  # a malformed record on the topic
        assert sink.flush(30.0)
        assert sink.outbox.pending() == 0
    finally:
        sink.close()

    err = StringIO()
    stats = consume(
        kafka_broker.bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=3, out=StringIO(), err=err
    )
    assert (stats.received, stats.valid, stats.duplicates, stats.invalid) == (7, 5, 1, 1)
    assert stats.ids == {str(v.violation_id) for v in violations}

    consumer = KafkaConsumer(
        TOPIC_PLATE_READS,
        bootstrap_servers=kafka_broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    order: dict[bytes, list[str]] = defaultdict(list)
    for record in consumer:
        order[record.key].append(PlateReadMessageV1.model_validate_json(record.value).message_id.hex)
    consumer.close()
    for camera in ("cam-0", "cam-1", "cam-2"):
        expected = [m.message_id.hex for m in reads if m.camera_id == camera]
        assert order[camera.encode()] == expected


def test_broker_killed_and_restarted_loses_nothing_from_outbox(kafka_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """After a Tansu restart (empty, new producer-id space) the publisher recreates producer and topics."""
    with EmbeddedBroker(port=0) as broker:
        sink = _sink(tmp_path, broker.bootstrap, max_block_ms=2000, delivery_timeout_ms=4000)
        try:
            before = [_violation(i) for i in range(3)]
            for msg in before:
                sink.publish(TOPIC_VIOLATIONS, message_key(TOPIC_VIOLATIONS, msg), msg)
            assert sink.flush(20.0)

            broker.kill()
            during = [_violation(100 + i) for i in range(20)]
            for msg in during:  # the frame path keeps going: publish() must not block on the dead broker
                t0 = time.monotonic()
                sink.publish(TOPIC_VIOLATIONS, message_key(TOPIC_VIOLATIONS, msg), msg)
                assert time.monotonic() - t0 < 0.5
            assert not sink.flush(2.0)
            assert sink.outbox.pending() == len(during)

            broker.start()  # same port, empty memory storage
            assert sink.flush(60.0), f"outbox not drained: {sink.outbox.pending()} left, {sink.publisher.errors}"
            assert sink.publisher.producers_created >= 2
        finally:
            sink.close()
        stats = consume(
            broker.bootstrap, TOPIC_VIOLATIONS, from_beginning=True, max_idle_s=3, out=StringIO(), err=StringIO()
        )
    # Everything accepted while the broker was down arrived exactly once after dedup, nothing invalid.
    assert stats.ids >= {str(v.violation_id) for v in during}
    assert stats.invalid == 0


def test_a_second_broker_on_a_taken_port_fails_instead_of_claiming_the_first(fresh_broker: EmbeddedBroker) -> None:
    from sinks.embedded_broker import BrokerStartError

    with pytest.raises(BrokerStartError, match="already in use"):
        EmbeddedBroker(port=fresh_broker.port).start()
    check_broker(fresh_broker.bootstrap, timeout_s=2.0)  # the first one is untouched

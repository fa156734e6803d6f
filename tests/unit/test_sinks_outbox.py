"""Durable outbox: idempotent put, ack, bound policy, durability across reopen, thread safety."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sinks.outbox import Outbox, OutboxFull, PutResult
from sinks.schema import TOPIC_PLATE_READS, TOPIC_VIOLATIONS


def test_put_is_idempotent_by_topic_and_message_id(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box.put(TOPIC_VIOLATIONS, b"k", b"v1", "id-1") is PutResult.ACCEPTED
    assert box.put(TOPIC_VIOLATIONS, b"k", b"v1-again", "id-1") is PutResult.DUPLICATE
    assert box.put(TOPIC_PLATE_READS, b"k", b"v1", "id-1") is PutResult.ACCEPTED  # other topic: its own row
    rows = box.peek(10)
    assert [(r.topic, r.value) for r in rows] == [(TOPIC_VIOLATIONS, b"v1"), (TOPIC_PLATE_READS, b"v1")]
    assert box.counters.duplicates[TOPIC_VIOLATIONS] == 1 and box.pending() == 2


def test_peek_is_ordered_and_ack_deletes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for i in range(5):
        box.put(TOPIC_PLATE_READS, b"cam", f"v{i}".encode(), f"id-{i}")
    first = box.peek(3)
    assert [r.value for r in first] == [b"v0", b"v1", b"v2"]
    assert box.peek(3) == first  # peek does not consume
    assert box.ack([first[0].seq, first[2].seq, 999_999]) == 2
    assert [r.value for r in box.peek(10)] == [b"v1", b"v3", b"v4"]
    assert box.pending() == 3 and box.min_pending_seq() == first[1].seq


def test_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.put(TOPIC_VIOLATIONS, b"k", b"v", "id-1")
    box.put(TOPIC_VIOLATIONS, b"k", b"w", "id-2")
    box.ack([box.peek(1)[0].seq])
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert [(r.value, r.message_id) for r in again.peek(10)] == [(b"w", "id-2")]
    assert again.pending() == 1
    assert again.put(TOPIC_VIOLATIONS, b"k", b"w", "id-2") is PutResult.DUPLICATE
    assert again.max_seq() == 2  # seqs never reused after reopen


def test_bound_refuses_plate_reads_but_keeps_violations(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_rows=3, hard_max_rows=4)
    for i in range(3):
        assert box.put(TOPIC_PLATE_READS, b"c", b"p", f"p{i}") is PutResult.ACCEPTED
    assert box.put(TOPIC_PLATE_READS, b"c", b"p", "p3") is PutResult.REFUSED
    assert box.counters.refused[TOPIC_PLATE_READS] == 1
    assert box.put(TOPIC_VIOLATIONS, b"v", b"x", "v0") is PutResult.ACCEPTED  # soft limit: 4 rows
    assert box.put(TOPIC_VIOLATIONS, b"v", b"x", "v1") is PutResult.ACCEPTED  # hard limit: evicts oldest plate read
    assert box.counters.evicted[TOPIC_PLATE_READS] == 1
    assert [r.message_id for r in box.peek(10)] == ["p1", "p2", "v0", "v1"]
    box.put(TOPIC_VIOLATIONS, b"v", b"x", "v2")
    box.put(TOPIC_VIOLATIONS, b"v", b"x", "v3")
    assert [r.message_id for r in box.peek(10)] == ["v0", "v1", "v2", "v3"]
    with pytest.raises(OutboxFull):
        box.put(TOPIC_VIOLATIONS, b"v", b"x", "v4")  # nothing left to evict: loud, never a silent drop
    assert box.pending() == 4


def test_bury_moves_row_to_dead_table(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.put(TOPIC_VIOLATIONS, b"k", b"huge", "id-1")
    box.bury(box.peek(1)[0].seq, "MessageSizeTooLargeError")
    assert box.pending() == 0 and box.dead_count() == 1 and box.counters.buried[TOPIC_VIOLATIONS] == 1


def test_concurrent_writer_and_reader(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    n = 300
    delivered: list[str] = []
    done = threading.Event()

    def writer() -> None:
        for i in range(n):
            box.put(TOPIC_PLATE_READS, b"c", b"v", f"id-{i}")
        done.set()

    def reader() -> None:
        while not (done.is_set() and box.pending() == 0):
            rows = box.peek(50)
            delivered.extend(r.message_id for r in rows)
            box.ack(r.seq for r in rows)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert delivered == [f"id-{i}" for i in range(n)]  # every row once, in order

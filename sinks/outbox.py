"""Durable local outbox (SQLite, WAL): the frame path writes here and never waits for Kafka.

A publisher thread (:class:`sinks.kafka_sink.KafkaPublisher`) reads rows in insertion order with :meth:`Outbox.peek`,
sends them, and deletes them with :meth:`Outbox.ack` only after the broker acknowledged delivery. A crash, a
broker outage or a restart of the box loses nothing that :meth:`Outbox.put` accepted (``synchronous=FULL``).

Idempotence: ``put`` is idempotent by ``(topic, message_id)`` while the row is pending; a second put of the same id
is reported as DUPLICATE and stored once. After delivery the row is gone; a later re-put is published again and
consumers de-duplicate by id (delivery is at-least-once anyway).

Bound policy (when ``max_rows`` pending rows are reached):

* **bulk** topics (plate reads, their audit twin, camera health): new rows are REFUSED and counted
  (``refused[topic]``). Old rows are kept, so what is published stays a gap-free prefix in capture order.
* **critical** topics (violations, violation audit, review): always accepted while the total is below
  ``hard_max_rows``. Above it, the oldest bulk rows are evicted to make room (counted in ``evicted[topic]``).
  When nothing bulk is left to evict, :class:`OutboxFull` is raised: a violation is never dropped silently — the
  caller must treat it as a fault (the box has been cut off from the data centre for a very long time).
  :class:`sinks.kafka_sink.OutboxKafkaSink` counts it in ``refused[topic]``, logs it at ERROR with its id and marks
  itself degraded, which fails ``/readyz``; the frame path keeps running (plate reads, the JSONL copy, evidence).

Sizing: ``storage.outbox_max_records`` is ``max_rows``; ``hard_max_rows`` is twice that. At ~2 kB a row, the
default 100 000 rows is ~200 MB of disk and, at one passage every 2 s per camera, more than two days of outage.

Poison rows (the broker rejects them for good, e.g. too large) are moved to a ``dead`` table by :meth:`bury`,
never deleted, so an operator can inspect them.

Thread-safe: one connection guarded by a lock (SQLite serialises writers anyway).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sinks.schema import TOPIC_REVIEW, TOPIC_VIOLATIONS, TOPIC_VIOLATIONS_AUDIT

CRITICAL_TOPICS: frozenset[str] = frozenset({TOPIC_VIOLATIONS, TOPIC_VIOLATIONS_AUDIT, TOPIC_REVIEW})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT    NOT NULL,
    key        BLOB,
    value      BLOB    NOT NULL,
    message_id TEXT    NOT NULL,
    critical   INTEGER NOT NULL,
    created_s  REAL    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (topic, message_id)
);
CREATE TABLE IF NOT EXISTS dead (
    seq        INTEGER PRIMARY KEY,
    topic      TEXT    NOT NULL,
    key        BLOB,
    value      BLOB    NOT NULL,
    message_id TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    buried_s   REAL    NOT NULL
);
"""


class PutResult(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


class OutboxFull(RuntimeError):
    """A critical message could not be stored: the outbox is at its hard limit with nothing left to evict."""


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    topic: str
    key: bytes | None
    value: bytes
    message_id: str
    attempts: int


@dataclass
class OutboxCounters:
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    evicted: Counter[str] = field(default_factory=Counter)
    acked: Counter[str] = field(default_factory=Counter)
    buried: Counter[str] = field(default_factory=Counter)


class Outbox:
    def __init__(self, path: Path, max_rows: int = 100_000, hard_max_rows: int | None = None) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be >= 1")
        self.path = Path(path)
        self.max_rows = max_rows
        self.hard_max_rows = hard_max_rows if hard_max_rows is not None else 2 * max_rows
        if self.hard_max_rows < max_rows:
            raise ValueError("hard_max_rows must be >= max_rows")
        self.counters = OutboxCounters()
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._pending = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def put(self, topic: str, key: bytes | None, value: bytes, message_id: str) -> PutResult:
        critical = topic in CRITICAL_TOPICS
        with self._lock:
            exists = self._db.execute(
                "SELECT 1 FROM outbox WHERE topic = ? AND message_id = ?", (topic, message_id)
            ).fetchone()
            if exists:
                self.counters.duplicates[topic] += 1
                return PutResult.DUPLICATE
            if not critical and self._pending >= self.max_rows:
                self.counters.refused[topic] += 1
                return PutResult.REFUSED
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if critical and self._pending >= self.hard_max_rows:
                    self._evict_bulk_locked(self._pending - self.hard_max_rows + 1)
                self._db.execute(
                    "INSERT INTO outbox (topic, key, value, message_id, critical, created_s) VALUES (?,?,?,?,?,?)",
                    (topic, key, value, message_id, int(critical), time.time()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._pending += 1
            self.counters.accepted[topic] += 1
            return PutResult.ACCEPTED

    def _evict_bulk_locked(self, n: int) -> None:
        rows = self._db.execute(
            "SELECT seq, topic FROM outbox WHERE critical = 0 ORDER BY seq LIMIT ?", (n,)
        ).fetchall()
        if len(rows) < n:
            raise OutboxFull(
                f"outbox at hard limit ({self.hard_max_rows} rows) with no plate reads left to evict; "
                "violation NOT stored"
            )
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq, _ in rows])
        self._pending -= len(rows)
        for _, topic in rows:
            self.counters.evicted[topic] += 1

    def peek(self, n: int) -> list[OutboxRow]:
        """The oldest `n` pending rows, in insertion order (does not remove them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, key, value, message_id, attempts FROM outbox ORDER BY seq LIMIT ?", (n,)
            ).fetchall()
        return [OutboxRow(int(s), str(t), k, bytes(v), str(m), int(a)) for s, t, k, v, m, a in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete delivered rows; returns how many were deleted (acking an unknown seq is a no-op)."""
        ids = list(seqs)
        if not ids:
            return 0
        with self._lock:
            topics = self._topics_of_locked(ids)
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in ids])
            self._db.execute("COMMIT")
            self._pending -= len(topics)
            for topic in topics:
                self.counters.acked[topic] += 1
            return len(topics)

    def mark_attempt(self, seqs: Iterable[int]) -> None:
        with self._lock:
            self._db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs])

    def bury(self, seq: int, reason: str) -> None:
        """Move an undeliverable row to the dead table (kept for inspection, no longer published)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            moved = self._db.execute(
                "INSERT INTO dead (seq, topic, key, value, message_id, reason, buried_s) "
                "SELECT seq, topic, key, value, message_id, ?, ? FROM outbox WHERE seq = ?",
                (reason, time.time(), seq),
            ).rowcount
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self._db.execute("COMMIT")
            if moved:
                self._pending -= 1
                topic = self._db.execute("SELECT topic FROM dead WHERE seq = ?", (seq,)).fetchone()[0]
                self.counters.buried[str(topic)] += 1

    def _topics_of_locked(self, seqs: list[int]) -> list[str]:
        topics: list[str] = []
        for s in seqs:
            row = self._db.execute("SELECT topic FROM outbox WHERE seq = ?", (s,)).fetchone()
            if row is not None:
                topics.append(str(row[0]))
        return topics

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def max_seq(self) -> int:
        """The highest seq ever assigned (0 when none): flush() waits until everything up to it is gone."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            return int(row[0]) if row else 0

    def min_pending_seq(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM outbox").fetchone()
            return int(row[0]) if row and row[0] is not None else None

    def dead_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

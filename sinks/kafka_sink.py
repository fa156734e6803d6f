"""Kafka publishing from the durable outbox (kafka-python 3.x), plus broker checks and explicit topic creation.

Path of a message: frame path → :class:`OutboxKafkaSink.publish` (SQLite insert, never network) →
:class:`KafkaPublisher` thread → ``KafkaProducer.send`` → delivery acknowledgement (acks=all) → ``Outbox.ack``.

Error policy of the publisher:

* retriable errors (broker down, timeouts, leader moves): keep the rows, back off exponentially (0.2 s → 5 s);
* fatal producer errors (``UnknownProducerIdError`` after a broker restart, any non-retriable ``KafkaError``, or
  too many retriable failures in a row): close the producer, create a new one and re-create the topics (an
  in-memory Tansu broker comes back empty) before sending again;
* a row the broker rejects for good (``MessageSizeTooLargeError`` and friends) is buried in the outbox's dead
  table and counted, never deleted silently.

Delivery is at-least-once: a row whose ack was lost is sent again; consumers de-duplicate by id.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import (
    InvalidRecordError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RetriableError,
    TopicAlreadyExistsError,
)
from pydantic import BaseModel

from sinks.outbox import Outbox, OutboxFull, OutboxRow, PutResult
from sinks.schema import dedup_id

log = logging.getLogger(__name__)

_POISON = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError)


class BrokerUnavailable(RuntimeError):
    """The Kafka broker cannot be reached; the message is one line meant for an operator."""


class TopicsMissing(RuntimeError):
    """Topics were requested but are not in the broker's metadata."""


def _admin(bootstrap: str, timeout_s: float) -> Any:
    timeout_ms = max(100, int(timeout_s * 1000))
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
            client_id="lez-anpr-admin",
        )
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"Kafka broker unreachable at {bootstrap} (no answer within {timeout_s:g} s: {type(exc).__name__})"
        ) from None


def check_broker(bootstrap: str, timeout_s: float = 5.0) -> None:
    """Raise BrokerUnavailable unless the broker answers a metadata request within `timeout_s`."""
    admin = _admin(bootstrap, timeout_s)
    try:
        admin.list_topics()
    except KafkaError as exc:
        raise BrokerUnavailable(f"Kafka broker at {bootstrap} does not answer metadata: {type(exc).__name__}") from None
    finally:
        admin.close()


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 1, timeout_s: float = 10.0) -> None:
    """Create `topics` (existing ones are fine) and check they are all in the metadata; raise TopicsMissing if not.

    Explicit creation matters: a broker may acknowledge a produce to a missing topic without storing it (Tansu).
    Partition counts of existing topics are not changed (Tansu has no CreatePartitions).
    """
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = _admin(bootstrap, timeout_s)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            spec = {t: {"num_partitions": partitions, "replication_factor": 1} for t in missing}
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won: checked below
                admin.create_topics(spec, timeout_ms=int(timeout_s * 1000))
        deadline = time.monotonic() + timeout_s
        while True:
            described = {t["name"]: t for t in admin.describe_topics(wanted)}
            absent = [
                t
                for t in wanted
                if t not in described or described[t]["error_code"] != 0 or not described[t]["partitions"]
            ]
            if not absent or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    except KafkaError as exc:
        raise BrokerUnavailable(f"Kafka broker at {bootstrap} failed topic creation: {type(exc).__name__}") from None
    finally:
        admin.close()
    if absent:
        raise TopicsMissing(f"topics missing on {bootstrap} after creation: {', '.join(absent)}")


class KafkaPublisher:
    """Background thread draining an Outbox into Kafka. One producer at a time, recreated after fatal errors."""

    def __init__(
        self,
        outbox: Outbox,
        bootstrap: str,
        *,
        topics: Iterable[str] = (),
        batch_size: int = 200,
        compression_type: str | None = "lz4",
        max_block_ms: int = 5000,
        delivery_timeout_ms: int = 15000,
        backoff_max_s: float = 5.0,
        fatal_after_retriable: int = 5,
        idle_poll_s: float = 0.2,
    ) -> None:
        self.outbox = outbox
        self.bootstrap = bootstrap
        self.topics = tuple(topics)
        self.batch_size = batch_size
        self.compression_type = compression_type
        self.max_block_ms = max_block_ms
        self.delivery_timeout_ms = delivery_timeout_ms
        self.backoff_max_s = backoff_max_s
        self.fatal_after_retriable = fatal_after_retriable
        self.idle_poll_s = idle_poll_s
        self.delivered = 0
        self.errors: Counter[str] = Counter()
        self.producers_created = 0
        self._producer: Any = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="kafka-publisher", daemon=True)

    def start(self) -> KafkaPublisher:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every row in the outbox at call time is delivered (or buried); False on timeout."""
        target = self.outbox.max_seq()
        deadline = time.monotonic() + timeout_s
        self.wake()
        with self._progress:
            while True:
                low = self.outbox.min_pending_seq()
                if low is None or low > target:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._progress.wait(min(remaining, 0.2))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread (rows not yet delivered stay in the outbox for the next start) and close the producer."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("kafka publisher did not stop within %.1f s", timeout_s)
        self._close_producer()

    # ------------------------------------------------------------------------------------ thread body

    def _run(self) -> None:
        backoff_s = 0.0
        retriable_in_row = 0
        while not self._stop.is_set():
            if backoff_s:
                self._stop.wait(backoff_s)
                if self._stop.is_set():
                    break
            rows = self.outbox.peek(self.batch_size)
            if not rows:
                self._wake.wait(self.idle_poll_s)
                self._wake.clear()
                continue
            try:
                fatal = self._publish_batch(rows)
            except Exception:  # never die silently: log, count, back off, recreate the producer
                log.exception("kafka publisher: unexpected error")
                self.errors["unexpected"] += 1
                fatal = True
            if fatal is None:
                backoff_s, retriable_in_row = 0.0, 0
                continue
            retriable_in_row += 1
            if fatal or retriable_in_row >= self.fatal_after_retriable:
                self._close_producer()
                retriable_in_row = 0
            backoff_s = min(self.backoff_max_s, max(0.2, backoff_s * 2))

    def _publish_batch(self, rows: list[OutboxRow]) -> bool | None:
        """Send rows; ack the delivered ones. None = all delivered, False = retriable failure, True = fatal."""
        producer = self._ensure_producer()
        if producer is None:
            return False
        self.outbox.mark_attempt(r.seq for r in rows)
        sent: list[tuple[OutboxRow, Any]] = []
        failure: Exception | None = None
        for row in rows:
            try:
                sent.append((row, producer.send(row.topic, value=row.value, key=row.key)))
            except Exception as exc:  # KafkaTimeoutError after max_block_ms, or a poison row
                if isinstance(exc, _POISON):
                    self._bury(row, exc)
                    continue
                failure = exc
                break
        # Wait for the acknowledgements in short slices so stop() stays responsive during an outage.
        deadline = time.monotonic() + self.delivery_timeout_ms / 1000 + 5
        while not all(f.is_done for _, f in sent) and time.monotonic() < deadline and not self._stop.is_set():
            with contextlib.suppress(KafkaError):
                producer.flush(timeout=0.5)
        delivered: list[int] = []
        for row, future in sent:
            if future.succeeded():
                delivered.append(row.seq)
            elif future.failed() and isinstance(future.exception, _POISON):
                self._bury(row, future.exception)
            elif failure is None:
                failure = future.exception if future.failed() else KafkaTimeoutError("delivery not confirmed")
        self._ack(delivered)
        if failure is None:
            return None
        self.errors[type(failure).__name__] += 1
        log.warning("kafka publish failed (%d of %d delivered): %s", len(delivered), len(rows), type(failure).__name__)
        return not isinstance(failure, RetriableError)

    def _ack(self, seqs: list[int]) -> None:
        if seqs:
            self.delivered += self.outbox.ack(seqs)
        with self._progress:
            self._progress.notify_all()

    def _bury(self, row: OutboxRow, exc: BaseException) -> None:
        self.errors["poison"] += 1
        log.error("kafka rejected a message for good (topic %s, %d bytes): %s", row.topic, len(row.value), exc)
        self.outbox.bury(row.seq, type(exc).__name__)

    def _ensure_producer(self) -> Any:
        if self._producer is not None:
            return self._producer
        try:
            if self.topics:
                ensure_topics(self.bootstrap, self.topics, timeout_s=self.max_block_ms / 1000)
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id="lez-anpr-publisher",
                acks="all",
                enable_idempotence=True,
                compression_type=self.compression_type,
                linger_ms=5,
                max_block_ms=self.max_block_ms,
                bootstrap_timeout_ms=self.max_block_ms,
                request_timeout_ms=min(10000, self.delivery_timeout_ms - 10),
                delivery_timeout_ms=self.delivery_timeout_ms,
            )
        except (KafkaError, BrokerUnavailable, TopicsMissing) as exc:
            self.errors[type(exc).__name__] += 1
            log.warning("kafka producer not available: %s", exc)
            return None
        self.producers_created += 1
        return self._producer

    def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=1.0)
            except Exception:  # a broken producer may fail to close; it is discarded either way
                log.debug("closing a broken producer failed", exc_info=True)


class OutboxKafkaSink:
    """The Sink the pipeline uses for Kafka: publish() writes to the outbox only; the publisher does the network."""

    def __init__(self, outbox: Outbox, publisher: KafkaPublisher) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.results: Counter[PutResult] = Counter()
        self.degraded = ""  # why a critical message could not be stored, once that happened

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None:
        """Store for delivery. Never raises for a full outbox: a refusal is counted, logged and marks the box
        degraded (`/readyz` fails, `anpr_outbox_refused{topic}` counts it) — the frame path keeps going."""
        message_id = dedup_id(message)
        try:
            result = self.outbox.put(topic, key, message.model_dump_json().encode(), message_id)
        except OutboxFull as exc:
            self.outbox.counters.refused[topic] += 1
            self.results[PutResult.REFUSED] += 1
            self.degraded = str(exc)
            log.error("%s (topic %s, id %s)", exc, topic, message_id)
            return
        self.results[result] += 1
        if result is PutResult.REFUSED:
            log.warning("outbox full: refused a message for %s (counted)", topic)
        self.publisher.wake()

    def flush(self, timeout_s: float) -> bool:
        return self.publisher.flush(timeout_s)

    def close(self) -> None:
        self.publisher.stop()
        self.outbox.close()

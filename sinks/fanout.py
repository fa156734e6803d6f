"""Publish every message to several sinks (e.g. the Kafka outbox and a local JSONL copy)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from sinks.base import Sink


class FanoutSink:
    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None:
        for sink in self.sinks:
            sink.publish(topic, key, message)

    def flush(self, timeout_s: float) -> bool:
        return all([sink.flush(timeout_s) for sink in self.sinks])

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

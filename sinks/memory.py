"""In-memory sink for tests: keeps every published (topic, key, message) in order."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class Published:
    topic: str
    key: bytes | None
    message: BaseModel


class MemorySink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Published] = []
        self.closed = False

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None:
        if self.closed:
            raise RuntimeError("publish on a closed sink")
        with self._lock:
            self._items.append(Published(topic, key, message))

    def flush(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    @property
    def items(self) -> list[Published]:
        with self._lock:
            return list(self._items)

    def messages(self, topic: str) -> list[BaseModel]:
        return [p.message for p in self.items if p.topic == topic]

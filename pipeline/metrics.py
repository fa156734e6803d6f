"""Counters and stage timers, labelled by camera/stage/rule — never by plate text (plates are personal data).

Kept as plain thread-safe numbers so the pipeline has no global registry; `snapshot()` feeds the run summary, and
`to_prometheus()` renders the text exposition format for a metrics endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

Labels = tuple[tuple[str, str], ...]

PLATE_LIKE_LABELS = {"plate", "plate_text", "text"}


class Counters:
    def __init__(self, prefix: str = "anpr") -> None:
        self.prefix = prefix
        self._values: dict[tuple[str, Labels], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _labels(labels: dict[str, str]) -> Labels:
        if PLATE_LIKE_LABELS & labels.keys():
            raise ValueError("plate text must never be a metric label")
        return tuple(sorted(labels.items()))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, self._labels(labels))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[(name, self._labels(labels))] = value

    def get(self, name: str, **labels: str) -> float:
        """The value for exactly these labels; with no labels given, the sum over every label set."""
        with self._lock:
            if labels:
                return self._values.get((name, self._labels(labels)), 0.0)
            return sum(v for (n, _), v in self._values.items() if n == name)

    @contextmanager
    def timer(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.inc("stage_seconds", time.perf_counter() - start, stage=stage)
            self.inc("stage_calls", 1.0, stage=stage)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            items = sorted(self._values.items())
        out: dict[str, float] = {}
        for (name, labels), value in items:
            suffix = ",".join(f"{k}={v}" for k, v in labels)
            out[f"{name}{{{suffix}}}" if suffix else name] = value
        return out

    def to_prometheus(self) -> str:
        lines = []
        with self._lock:
            items = sorted(self._values.items())
        for (name, labels), value in items:
            rendered = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{self.prefix}_{name}{{{rendered}}} {value}" if rendered else f"{self.prefix}_{name} {value}")
        return "\n".join(lines) + "\n"

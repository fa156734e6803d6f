"""Counters, gauges and stage-latency histograms, labelled by camera/stage/rule/reason — never by plate text.

Kept as plain thread-safe numbers so the pipeline has no global registry: `snapshot()` feeds the run summary, and
`to_prometheus()` renders them through `prometheus_client` (a collector of its own per process, no default
registry) for the `/metrics` endpoint. What `inc()` touched is a Prometheus counter (`anpr_<name>_total`), what
`set()` touched a gauge (`anpr_<name>`), and `timer(stage)` also feeds `anpr_stage_latency_seconds{stage}`.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Labels = tuple[tuple[str, str], ...]

PLATE_LIKE_LABELS = {"plate", "plate_text", "text"}
# Stage latencies: a detector batch on 2 CPU cores takes ~0.1-0.5 s, an OCR of a track ~0.2-2 s.
LATENCY_BUCKETS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS_S) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS_S, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, n in zip((*LATENCY_BUCKETS_S, float("inf")), self.buckets, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


class Counters:
    def __init__(self, prefix: str = "anpr") -> None:
        self.prefix = prefix
        self._values: dict[tuple[str, Labels], float] = {}
        self._gauges: set[str] = set()
        self._latency: dict[str, _Histogram] = {}
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
        key = (name, self._labels(labels))
        with self._lock:
            self._values[key] = value
            self._gauges.add(name)

    def get(self, name: str, **labels: str) -> float:
        """The value for exactly these labels; with no labels given, the sum over every label set."""
        with self._lock:
            if labels:
                return self._values.get((name, self._labels(labels)), 0.0)
            return sum(v for (n, _), v in self._values.items() if n == name)

    def get_sum(self, name: str, **subset: str) -> float:
        """The sum over every label set that contains `subset` (e.g. drops of one camera over all stages)."""
        wanted = set(subset.items())
        with self._lock:
            return sum(v for (n, labels), v in self._values.items() if n == name and wanted <= set(labels))

    def observe_latency(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._latency.setdefault(stage, _Histogram()).observe(seconds)

    @contextmanager
    def timer(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.inc("stage_seconds", elapsed, stage=stage)
            self.inc("stage_calls", 1.0, stage=stage)
            self.observe_latency(stage, elapsed)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            items = sorted(self._values.items())
        out: dict[str, float] = {}
        for (name, labels), value in items:
            suffix = ",".join(f"{k}={v}" for k, v in labels)
            out[f"{name}{{{suffix}}}" if suffix else name] = value
        return out

    def families(self) -> list[Metric]:
        """The Prometheus metric families of everything recorded so far."""
        with self._lock:
            items = sorted(self._values.items())
            gauges = set(self._gauges)
            latency = {stage: (h.cumulative(), h.sum) for stage, h in sorted(self._latency.items())}
        grouped: dict[str, list[tuple[Labels, float]]] = {}
        for (name, labels), value in items:
            grouped.setdefault(name, []).append((labels, value))
        families: list[Metric] = []
        for name, series in grouped.items():
            label_names = sorted({k for labels, _ in series for k, _ in labels})
            full = f"{self.prefix}_{name}"
            family: CounterMetricFamily | GaugeMetricFamily
            if name in gauges:
                family = GaugeMetricFamily(full, name.replace("_", " "), labels=label_names)
            else:
                family = CounterMetricFamily(full, name.replace("_", " "), labels=label_names)
            for labels, value in series:
                given = dict(labels)
                family.add_metric([given.get(k, "") for k in label_names], value)
            families.append(family)
        if latency:
            hist = HistogramMetricFamily(f"{self.prefix}_stage_latency_seconds", "stage latency", labels=["stage"])
            for stage, (buckets, total) in latency.items():
                hist.add_metric([stage], buckets, total)
            families.append(hist)
        return families

    def to_prometheus(self, refresh: Callable[[], None] | None = None) -> str:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_CountersCollector(self, refresh))
        return generate_latest(registry).decode()


class _CountersCollector(Collector):
    def __init__(self, counters: Counters, refresh: Callable[[], None] | None) -> None:
        self.counters, self.refresh = counters, refresh

    def collect(self) -> Iterable[Metric]:
        if self.refresh is not None:
            self.refresh()  # e.g. camera ages and outbox depth: gauges read at scrape time
        return self.counters.families()

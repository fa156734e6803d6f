"""Camera health messages, /healthz /readyz /metrics over real HTTP on 127.0.0.1, the outbox-full policy, and the
signal handler — without models or a broker (the real-run versions are in tests/integration)."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.health import CameraHealthV1, HealthMonitor, HealthServer, OutboxDelivery
from pipeline.metrics import Counters
from pipeline.shutdown import EXIT_FORCED, ShutdownSignals
from pipeline.sources import SourceStats
from sinks.kafka_sink import KafkaPublisher, OutboxKafkaSink
from sinks.memory import MemorySink
from sinks.outbox import Outbox
from sinks.schema import TOPIC_CAMERA_HEALTH, TOPIC_PLATE_READS, TOPIC_VIOLATIONS
from tests.unit.test_schema import make_ctx, make_decision, make_passage


class Cam:
    def __init__(self, camera_id: str, live: bool = True) -> None:
        self.camera_id = camera_id
        self.stats = SourceStats(camera_id, live=live, declared_fps=12.5)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[HealthMonitor, HealthServer, Outbox, list[Cam]]]:
    cams = [Cam("gate-1"), Cam("gate-2")]
    outbox = Outbox(tmp_path / "o.db", max_rows=100)
    counters = Counters()
    monitor = HealthMonitor(cams, MemorySink(), counters, site_id="s", interval_s=60, stale_after_s=5,
                            delivery=OutboxDelivery(outbox))
    server = HealthServer(monitor, counters, port=0).start()
    try:
        yield monitor, server, outbox, cams
    finally:
        server.stop()
        outbox.close()


def test_health_messages_per_camera(tmp_path: Path) -> None:
    cams = [Cam("gate-1"), Cam("gate-2")]
    cams[0].stats.frame_delivered()
    cams[0].stats.reconnects = 2
    sink = MemorySink()
    counters = Counters()
    counters.inc("dropped_frames", 3, camera="gate-1", stage="detect", reason="queue_full")
    monitor = HealthMonitor(cams, sink, counters, site_id="s", interval_s=60, stale_after_s=5)
    assert monitor.publish_once() == 2
    published = [p for p in sink.items if p.topic == TOPIC_CAMERA_HEALTH]
    assert [p.key for p in published] == [b"gate-1", b"gate-2"]
    first, second = (CameraHealthV1.model_validate(p.message.model_dump()) for p in published)
    assert first.ready and first.frames_total == 1 and first.reconnects_total == 2 and first.dropped_frames_total == 3
    assert not second.ready and second.last_frame_age_s is None and second.declared_fps == 12.5
    assert counters.get("camera_up", camera="gate-2") == 0.0 and counters.get("camera_reconnects") == 2


def test_healthz_readyz_and_metrics(served: tuple[HealthMonitor, HealthServer, Outbox, list[Cam]]) -> None:
    monitor, server, outbox, cams = served
    base = f"http://127.0.0.1:{server.port}"
    assert server.host == "127.0.0.1"
    assert get(base + "/healthz")[0] == 200
    code, body = get(base + "/readyz")
    assert code == 503 and "camera gate-1 stale (last frame never" in json.loads(body)["reasons"][0]
    for cam in cams:
        cam.stats.frame_delivered()
    assert get(base + "/readyz") == (200, json.dumps({"ready": True, "reasons": []}))
    for i in range(100):
        outbox.put(TOPIC_PLATE_READS, b"k", b"v", f"id-{i}")
    code, body = get(base + "/readyz")
    assert code == 503 and "outbox at its bound (100 >= 100 rows)" in body
    monitor.counters.inc("reads", camera="gate-1")
    with monitor.counters.timer("detect"):
        pass
    code, text = get(base + "/metrics")
    assert code == 200
    assert 'anpr_reads_total{camera="gate-1"} 1.0' in text
    assert "anpr_outbox_pending 100.0" in text and 'anpr_outbox_accepted{topic="lez.plate-reads.v1"} 100.0' in text
    assert 'anpr_camera_last_frame_age_seconds{camera="gate-2"}' in text
    assert 'anpr_stage_latency_seconds_bucket{le="+Inf",stage="detect"} 1.0' in text
    assert get(base + "/nope")[0] == 404


def test_a_full_outbox_refuses_a_violation_loudly_and_marks_the_box_degraded(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", max_rows=1, hard_max_rows=1)
    sink = OutboxKafkaSink(outbox, KafkaPublisher(outbox, "127.0.0.1:1"))  # never started: no network
    from sinks.schema import build_violation_message, message_key

    messages = [build_violation_message(make_passage(track_id=i), make_decision(), make_ctx()) for i in (1, 2)]
    for m in messages:
        sink.publish(TOPIC_VIOLATIONS, message_key(TOPIC_VIOLATIONS, m), m)  # never raises on the frame path
    assert outbox.pending() == 1
    assert outbox.counters.refused[TOPIC_VIOLATIONS] == 1
    assert "violation NOT stored" in sink.degraded
    monitor = HealthMonitor([], None, Counters(), site_id="s", interval_s=60, stale_after_s=5,
                            delivery=OutboxDelivery(outbox, None, lambda: sink.degraded))
    ready, body = monitor.readiness()
    assert not ready and any("degraded" in r for r in body["reasons"])
    outbox.close()


def test_first_signal_stops_second_forces_exit() -> None:
    stops: list[int] = []
    exits: list[int] = []
    before = signal.getsignal(signal.SIGTERM)
    with ShutdownSignals(lambda: stops.append(1), force_exit=exits.append) as signals:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stops == [1] and signals.received == "SIGTERM" and exits == []
        os.kill(os.getpid(), signal.SIGINT)
        assert exits == [EXIT_FORCED] and stops == [1]
    assert signal.getsignal(signal.SIGTERM) is before

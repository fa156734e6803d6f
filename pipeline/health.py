"""What a person looks at when a box misbehaves: camera health on Kafka, and `/healthz` `/readyz` `/metrics`.

* :class:`HealthMonitor` (a thread): every `publish_interval_s` it publishes one ``lez.camera-health.v1`` message
  per camera (last frame age, delivered vs declared fps, reconnects, decode errors, deadline misses) through the
  normal sink — so through the durable outbox, where camera health is *bulk* and is refused first when full — and
  refreshes the gauges of the same numbers and of the outbox (depth, refused, evicted, dead, delivery failures).
* :class:`HealthServer`: a tiny HTTP server, bound to 127.0.0.1 by default.
  ``/healthz`` 200 while the pipeline is alive (not FAILED/STOPPED); ``/readyz`` 200 when, in addition, every
  camera is fresh (a frame within `stale_after_s`; a replay that reached its end counts as fresh) and the outbox is
  below its bound; else 503 with the reasons as JSON. ``/metrics`` is the Prometheus text format.
No plate text anywhere: labels are camera, stage, reason, topic, error class.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from pipeline.metrics import Counters
from pipeline.sources import SourceHealth, SourceStats
from sinks.base import Sink
from sinks.kafka_sink import KafkaPublisher
from sinks.outbox import Outbox
from sinks.schema import LEZ_NAMESPACE, TOPIC_CAMERA_HEALTH

log = logging.getLogger(__name__)


class CameraHealthV1(BaseModel):
    """One camera's health at `published_at` (topic ``lez.camera-health.v1``, key = camera id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal["1"] = "1"
    message_id: str
    site_id: str
    camera_id: str
    published_at: datetime
    live: bool
    state: str
    ready: bool
    frames_total: int
    last_frame_age_s: float | None
    delivered_fps: float
    declared_fps: float
    reconnects_total: int
    decode_errors_total: int
    deadline_misses_total: int
    dropped_frames_total: int
    outbox_pending: int | None


@runtime_checkable
class HasStats(Protocol):
    camera_id: str
    stats: SourceStats


class DeliveryView(Protocol):
    """What the health side reads from the outbox and its publisher (kept abstract: sinks may be absent)."""

    def pending(self) -> int: ...

    def bound(self) -> int: ...

    def gauges(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]: ...

    def degraded(self) -> str: ...


class OutboxDelivery:
    """DeliveryView over the durable outbox and its Kafka publisher."""

    def __init__(self, outbox: Outbox, publisher: KafkaPublisher | None = None,
                 degraded: Callable[[], str] = lambda: "") -> None:
        self.outbox, self.publisher, self._degraded = outbox, publisher, degraded

    def degraded(self) -> str:
        return self._degraded()

    def pending(self) -> int:
        return self.outbox.pending()

    def bound(self) -> int:
        return self.outbox.max_rows

    def gauges(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        c = self.outbox.counters
        out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {
            "outbox_accepted": {(("topic", t),): float(n) for t, n in c.accepted.items()},
            "outbox_refused": {(("topic", t),): float(n) for t, n in c.refused.items()},
            "outbox_evicted": {(("topic", t),): float(n) for t, n in c.evicted.items()},
            "outbox_delivered": {(("topic", t),): float(n) for t, n in c.acked.items()},
            "outbox_dead": {(("topic", t),): float(n) for t, n in c.buried.items()},
        }
        if self.publisher is not None:
            out["delivery_failures"] = {(("error", e),): float(n) for e, n in self.publisher.errors.items()}
            out["kafka_producers_created"] = {(): float(self.publisher.producers_created)}
        return out


def camera_ready(h: SourceHealth, stale_after_s: float) -> bool:
    if not h.live and h.state == "ended":
        return True
    return h.last_frame_age_s is not None and h.last_frame_age_s <= stale_after_s


class HealthMonitor:
    def __init__(self, sources: Sequence[HasStats], sink: Sink | None, counters: Counters, *, site_id: str,
                 interval_s: float, stale_after_s: float, delivery: DeliveryView | None = None,
                 alive: Callable[[], bool] = lambda: True, running: Callable[[], bool] = lambda: True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sources, self.sink, self.counters = list(sources), sink, counters
        self.site_id, self.interval_s, self.stale_after_s = site_id, interval_s, stale_after_s
        self.delivery, self.alive, self.running, self.clock = delivery, alive, running, clock
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lez-health", daemon=True)

    def start(self) -> HealthMonitor:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish_once()
            except Exception:  # health reporting must never take the box down; it is retried next period
                log.exception("camera health publication failed")
                self.counters.inc("health_publish_failures")

    def refresh(self) -> None:
        """Update the camera and outbox gauges from their current state."""
        for h in self.snapshots():
            cam = h.camera_id
            self.counters.set("camera_last_frame_age_seconds", -1.0 if h.last_frame_age_s is None
                              else h.last_frame_age_s, camera=cam)
            self.counters.set("camera_delivered_fps", h.delivered_fps, camera=cam)
            self.counters.set("camera_declared_fps", h.declared_fps, camera=cam)
            self.counters.set("camera_reconnects", float(h.reconnects), camera=cam)
            self.counters.set("camera_read_errors", float(h.decode_errors), camera=cam)
            self.counters.set("camera_deadline_misses", float(h.deadline_misses), camera=cam)
            self.counters.set("camera_up", 1.0 if camera_ready(h, self.stale_after_s) else 0.0, camera=cam)
        if self.delivery is not None:
            self.counters.set("outbox_pending", float(self.delivery.pending()))
            self.counters.set("outbox_bound", float(self.delivery.bound()))
            for name, series in self.delivery.gauges().items():
                for labels, value in series.items():
                    self.counters.set(name, value, **dict(labels))

    def snapshots(self) -> list[SourceHealth]:
        return [s.stats.snapshot() for s in self.sources]

    def publish_once(self) -> int:
        self.refresh()
        if self.sink is None:
            return 0
        now = self.clock()
        pending = self.delivery.pending() if self.delivery is not None else None
        for h in self.snapshots():
            message = CameraHealthV1(
                message_id=str(uuid.uuid5(LEZ_NAMESPACE, f"health|{h.camera_id}|{now.isoformat()}")),
                site_id=self.site_id, camera_id=h.camera_id, published_at=now, live=h.live, state=h.state,
                ready=camera_ready(h, self.stale_after_s), frames_total=h.frames,
                last_frame_age_s=h.last_frame_age_s, delivered_fps=round(h.delivered_fps, 3),
                declared_fps=h.declared_fps, reconnects_total=h.reconnects, decode_errors_total=h.decode_errors,
                deadline_misses_total=h.deadline_misses,
                dropped_frames_total=int(self.counters.get_sum("dropped_frames", camera=h.camera_id)),
                outbox_pending=pending)
            self.sink.publish(TOPIC_CAMERA_HEALTH, h.camera_id.encode(), message)
            self.published += 1
        return len(self.sources)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        reasons: list[str] = []
        if not self.running():
            reasons.append("pipeline not running")
        for h in self.snapshots():
            if not camera_ready(h, self.stale_after_s):
                age = "never" if h.last_frame_age_s is None else f"{h.last_frame_age_s:.1f} s ago"
                reasons.append(f"camera {h.camera_id} stale (last frame {age}, state {h.state})")
        if self.delivery is not None and self.delivery.pending() >= self.delivery.bound():
            reasons.append(f"outbox at its bound ({self.delivery.pending()} >= {self.delivery.bound()} rows)")
        if self.delivery is not None and self.delivery.degraded():
            reasons.append(f"degraded: {self.delivery.degraded()}")
        return not reasons, {"ready": not reasons, "reasons": reasons}


class HealthServer:
    """`/healthz`, `/readyz`, `/metrics` on `host:port` (port 0 = an ephemeral port, see `.port`)."""

    def __init__(self, monitor: HealthMonitor, counters: Counters, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = _handler_for(monitor, counters)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:  # port taken (another box, another service): say which, in the config's words
            raise OSError(exc.errno, f"health endpoint cannot listen on {host}:{port} ({exc.strerror}); "
                                     "change health.port (0 = any free port)") from None
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="lez-health-http", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health endpoint on http://%s:%d (/healthz /readyz /metrics)", self.host, self.port)
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._thread.is_alive():
            # BaseServer.shutdown() waits without a timeout: ask from a helper thread, and bound our wait.
            threading.Thread(target=self._server.shutdown, name="lez-health-http-stop", daemon=True).start()
            self._thread.join(timeout_s)
        self._server.server_close()


def _handler_for(monitor: HealthMonitor, counters: Counters) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                alive = monitor.alive()
                self._send(200 if alive else 503, "application/json", json.dumps({"alive": alive}))
            elif path == "/readyz":
                ready, body = monitor.readiness()
                self._send(200 if ready else 503, "application/json", json.dumps(body))
            elif path == "/metrics":
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", counters.to_prometheus(monitor.refresh))
            else:
                self._send(404, "text/plain", "not found\n")

        def _send(self, code: int, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health http: " + format, *args)

    return Handler

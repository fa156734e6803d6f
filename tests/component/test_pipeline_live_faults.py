"""The pipeline (fake detectors, real threads and queues) fed by a live StreamSource with fault-injecting captures:
a dropped stream, a hung read and a dead camera end as counted, reported degradations, never as a hang or a crash;
stop() from another thread (what SIGTERM does) ends a never-ending camera within the bound."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.live import StreamSettings, StreamSource
from pipeline.runtime import Status
from rules.config import RulesConfig
from rules.registry import Registry
from tests.component import test_pipeline_runtime as rt
from tests.component.test_pipeline_runtime import CAMERA, ScriptedVehicles
from tests.component.test_pipeline_runtime import run_pipeline as run_with
from tests.unit.test_pipeline_live import Factory, FakeCapture

# The same fixtures as the runtime tests (pytest finds fixtures by name in this module's namespace).
rules = rt.rules
registry = rt.registry

SETTINGS = StreamSettings(open_timeout_s=0.3, frame_deadline_s=0.3, backoff_initial_s=0.02, backoff_max_s=0.05,
                          restart_budget=4, restart_window_s=60.0)


def test_flaky_camera_is_counted_and_reported_incomplete_when_its_budget_is_spent(
        rules: RulesConfig, registry: Registry) -> None:
    release = threading.Event()
    captures = [FakeCapture("f" * 10 + "x"), FakeCapture("f" * 5 + "h", release_hang=release),
                FakeCapture("", opened=False), FakeCapture("f" * 10 + "x")]
    source = StreamSource("rtsp://cam/1", CAMERA, SETTINGS, Factory(captures))
    try:
        run = run_with(rules, registry, [source], vehicles=ScriptedVehicles(()), script=(),  # type: ignore[list-item]
                       join_timeout_s=10.0)
    finally:
        release.set()
    assert run.summary.status is Status.STOPPED, run.summary.error
    assert "restart budget spent" in run.summary.incomplete_sources[CAMERA]
    assert run.counters.get("frames") == 25  # every frame the camera did deliver went through
    assert source.stats.deadline_misses == 1 and source.reconnects == 4
    assert run.counters.get("decode_errors", camera=CAMERA) == source.decode_errors == 4


def test_stop_from_another_thread_ends_a_live_camera_promptly(rules: RulesConfig, registry: Registry,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    source = StreamSource("rtsp://cam/1", CAMERA, SETTINGS, Factory([FakeCapture("f" * 100_000)]))
    original = rt.Pipeline.run
    holder: dict[str, float] = {}

    def run_and_stop(self: rt.Pipeline, join_timeout_s: float = 30.0) -> rt.RunSummary:
        timer = threading.Timer(0.5, lambda: (holder.__setitem__("stop", time.monotonic()), self.stop()))
        timer.start()
        try:
            return original(self, join_timeout_s=join_timeout_s)
        finally:
            timer.cancel()

    monkeypatch.setattr(rt.Pipeline, "run", run_and_stop)
    run = run_with(rules, registry, [source], vehicles=ScriptedVehicles((), delay_s=0.01), script=(),  # type: ignore[list-item]
                   queue_size=2, join_timeout_s=5.0)
    assert run.summary.status is Status.STOPPED, run.summary.error
    assert run.summary.incomplete_sources == {}  # a live camera stopped on request is not "incomplete"
    assert run.counters.get("frames") > 0 and run.counters.get("dropped_frames") > 0
    assert time.monotonic() - holder["stop"] < 3.0

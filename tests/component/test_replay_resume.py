"""Resuming at an idle point gives the passages an uninterrupted run gives (fake detectors, real tracker, rules and
message builders): the property the replay checkpoint relies on."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ocr.colour import PlateColourClassifier
from ocr.plate_reader import PlateReader
from pipeline.emit import Emitter, SiteFacts, Topics
from pipeline.metrics import Counters
from pipeline.passages import PassageBuilder
from pipeline.replay_parts import ResumingSource
from pipeline.runtime import IdlePoint, Pipeline
from pipeline.tracking import Tracker
from pipeline.yaml_config import load_model
from rules.config import RulesConfig
from rules.engine import RuleEngine
from rules.registry import Registry
from rules.types import Direction, Fuel, RegistryRecord, VehicleClass
from sinks.evidence import EvidenceRef, EvidenceStore
from sinks.memory import MemorySink
from sinks.schema import TOPIC_PLATE_READS_AUDIT, TOPIC_VIOLATIONS_AUDIT, deterministic_dump
from tests.component.test_pipeline_runtime import (
    CAMERA,
    Appearance,
    FakeTextEngine,
    ListSource,
    ScriptedPlates,
    ScriptedVehicles,
)

REPO = Path(__file__).resolve().parents[2]

@pytest.fixture(scope="module")
def demo_rules() -> RulesConfig:
    """The demo rules with a liability per entry: the same car read twice here gives two violations, so resuming
    can be compared passage by passage. (Per-day liabilities are de-duplicated by a ledger that lives in the
    process: a resumed replay re-publishes such a violation under the same `violation_id`, which consumers drop.)"""
    rules = load_model(RulesConfig, REPO / "configs" / "demo" / "rules.yaml")
    policies = tuple(p.model_copy(update={"liability": "per_entry"}) for p in rules.policies)
    return rules.model_copy(update={"policies": policies})


@pytest.fixture(scope="module")
def demo_registry() -> Registry:
    return Registry.from_records([RegistryRecord("30A12345", VehicleClass.CAR, Fuel.PETROL, 3, False,
                                                 datetime(2020, 1, 1, tzinfo=UTC))])


SCRIPT = (Appearance(0, 9, 10, 235), Appearance(20, 29, 10, 120), Appearance(40, 49, 10, 235))


def _run(rules: RulesConfig, registry: Registry, start_seq: int = 0, first_track_id: int = 0
         ) -> tuple[list[dict[str, Any]], list[IdlePoint]]:
    sink, counters = MemorySink(), Counters()
    builder = PassageBuilder(PlateReader(FakeTextEngine(), PlateColourClassifier()), 0.55,
                             lambda _cam, _centres: Direction.ENTRY)
    site = SiteFacts(gateways={CAMERA: ("demo-gw-1", 21.029, 105.8525)}, model_hashes={}, config_sha256="a" * 64,
                     software_version="test")
    emitter = Emitter(RuleEngine(rules, registry).decide, sink, None,
                      Topics(TOPIC_VIOLATIONS_AUDIT, TOPIC_PLATE_READS_AUDIT, None), site, counters,
                      clock=lambda: datetime(2026, 7, 3, 12, 30, tzinfo=UTC))
    idle: list[IdlePoint] = []

    def make_tracker(camera_id: str) -> Tracker:
        return Tracker(camera_id, 0.15, 0.5, 3, 24, id_start=first_track_id)

    source = ResumingSource(ListSource(CAMERA, 60, SCRIPT), start_seq)
    pipeline = Pipeline([source], ScriptedVehicles(SCRIPT), ScriptedPlates(SCRIPT), make_tracker, builder, emitter,
                        counters, on_idle=idle.append)
    summary = pipeline.run(join_timeout_s=10.0)
    assert summary.error == ""
    messages: Sequence[Any] = [*sink.messages(TOPIC_PLATE_READS_AUDIT), *sink.messages(TOPIC_VIOLATIONS_AUDIT)]
    return [deterministic_dump(m) for m in messages], idle


def test_idle_points_come_only_between_vehicles(demo_rules: RulesConfig, demo_registry: Registry) -> None:
    _, idle = _run(demo_rules, demo_registry)
    seqs = [p.next_seq for p in idle]
    # A car on frames 0-9 is finished 0.5 s (5 frames) after it was last seen: no idle point while it is open.
    assert not any(1 <= s <= 15 for s in seqs) and any(16 <= s <= 20 for s in seqs)
    assert all(p.next_track_id == 1 for p in idle if 16 <= p.next_seq <= 20)


def test_resuming_at_an_idle_point_reproduces_the_rest(demo_rules: RulesConfig, demo_registry: Registry) -> None:
    whole, idle = _run(demo_rules, demo_registry)
    point = next(p for p in idle if p.next_seq >= 30)  # after the second car
    assert point.next_track_id == 2
    tail, _ = _run(demo_rules, demo_registry, start_seq=point.next_seq, first_track_id=point.next_track_id)
    assert len(whole) == 3 + 2 and tail  # three passages (two read violations) and their violations
    # The resumed run emits exactly the messages of the uninterrupted run that came after the idle point.
    assert all(m in whole for m in tail)
    assert [m["track_id"] for m in tail if "violation_id" not in m] == [2]
    assert sorted(m["message_id"] for m in whole if m["track_id"] == 2) == \
           sorted(m["message_id"] for m in tail)


def test_a_passage_without_plate_keeps_the_vehicle_frame_and_crop(demo_rules: RulesConfig,
                                                                  demo_registry: Registry, tmp_path: Path) -> None:
    sink, counters = MemorySink(), Counters()
    builder = PassageBuilder(PlateReader(FakeTextEngine(), PlateColourClassifier()), 0.55,
                             lambda _cam, _centres: Direction.ENTRY)
    site = SiteFacts(gateways={}, model_hashes={}, config_sha256="a" * 64, software_version="test")
    store = EvidenceStore(tmp_path)
    emitter = Emitter(RuleEngine(demo_rules, demo_registry).decide, sink, store,
                      Topics(TOPIC_VIOLATIONS_AUDIT, TOPIC_PLATE_READS_AUDIT, None), site, counters)
    script = SCRIPT[:1]
    pipeline = Pipeline([ListSource(CAMERA, 15, script)], ScriptedVehicles(script), ScriptedPlates(()),
                        lambda cam: Tracker(cam, 0.15, 0.5, 3, 24), builder, emitter, counters)
    assert pipeline.run(join_timeout_s=10.0).error == ""
    (message,) = sink.messages(TOPIC_PLATE_READS_AUDIT)
    kinds = {ref.kind: ref for ref in message.evidence}
    assert set(kinds) == {"frame", "vehicle_crop"} and message.plate.status.value == "unreadable"
    assert store.open_bytes(EvidenceRef(**kinds["vehicle_crop"].model_dump()))


def test_a_stopped_replay_skips_the_queued_work(demo_rules: RulesConfig, demo_registry: Registry) -> None:
    """After a stop a replay resumes from its checkpoint: queued frames are not detected, tracks not read."""
    sink, counters = MemorySink(), Counters()
    builder = PassageBuilder(PlateReader(FakeTextEngine(), PlateColourClassifier()), 0.55,
                             lambda _cam, _centres: Direction.ENTRY)
    site = SiteFacts(gateways={}, model_hashes={}, config_sha256="a" * 64, software_version="test")
    emitter = Emitter(RuleEngine(demo_rules, demo_registry).decide, sink, None,
                      Topics(TOPIC_VIOLATIONS_AUDIT, TOPIC_PLATE_READS_AUDIT, None), site, counters)
    vehicles = ScriptedVehicles(SCRIPT, delay_s=0.05)
    pipeline = Pipeline([ListSource(CAMERA, 60, SCRIPT)], vehicles, ScriptedPlates(SCRIPT),
                        lambda cam: Tracker(cam, 0.15, 0.5, 3, 24), builder, emitter, counters, queue_size=16,
                        discard_on_stop=True)
    timer = threading.Timer(0.3, pipeline.stop)
    timer.start()
    pipeline.run(join_timeout_s=10.0)
    timer.join()
    assert counters.get("frames_discarded_on_stop") > 0
    assert vehicles.calls + counters.get("frames_discarded_on_stop") <= 60
    assert vehicles.calls < 30  # nowhere near the whole clip was detected

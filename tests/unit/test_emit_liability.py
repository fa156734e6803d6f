"""The emitter publishes one per-day liability per vehicle and day, and still reports every passage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.emit import Emitter, SiteFacts, Topics
from pipeline.metrics import Counters
from pipeline.passages import PassageResult
from rules.config import RulesConfig
from rules.engine import RuleEngine
from rules.registry import Registry
from sinks.memory import MemorySink
from sinks.schema import TOPIC_PLATE_READS, TOPIC_REVIEW, TOPIC_VIOLATIONS
from tests.unit.test_rule_engine import CONFIG, FRI_2000, RECORDS, TUE_1000, passage


def test_repeat_per_day_liability_is_not_published_again() -> None:
    config = CONFIG | {"gateways": [*CONFIG["gateways"],
                                    CONFIG["gateways"][0] | {"camera_id": "cam-2", "gateway_id": "gw-2"}]}
    engine = RuleEngine(RulesConfig.model_validate(config), Registry.from_records(RECORDS))
    sink, counters = MemorySink(), Counters()
    site = SiteFacts(gateways={"cam-1": ("gw-1", 21.03, 105.852), "cam-2": ("gw-2", 21.03, 105.852)},
                     model_hashes={}, config_sha256="a" * 64, software_version="test")
    emit = Emitter(engine.decide, sink, None, Topics(TOPIC_VIOLATIONS, TOPIC_PLATE_READS, TOPIC_REVIEW), site,
                   counters, clock=lambda: datetime(2026, 7, 3, 14, tzinfo=UTC))
    passages = [passage("30A12345", FRI_2000, camera="cam-1", track_id=1),  # fined (per day)
                passage("30A12345", FRI_2000 + timedelta(minutes=30), camera="cam-2", track_id=2),  # same evening
                passage("30A12345", FRI_2000 + timedelta(days=1), camera="cam-1", track_id=3),  # Saturday: new one
                passage("29AA12345", TUE_1000, track_id=4),  # per-entry warning
                passage("29AA12345", TUE_1000 + timedelta(minutes=5), track_id=5)]  # per entry: again
    for p in passages:
        emit(PassageResult(p, None, 0))
    violations = sink.messages(TOPIC_VIOLATIONS)
    assert [v.track_id for v in violations] == [1, 3, 4, 5]
    assert len(sink.messages(TOPIC_PLATE_READS)) == 5  # every passage is still reported
    assert counters.get("violations") == 4 and counters.get("violations_deduplicated") == 1
    assert [v.liability for v in violations] == ["per_day", "per_day", "per_entry", "per_entry"]

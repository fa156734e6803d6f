"""The rule engine, table-driven: time windows in local time, registry at event time, exemptions, review paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import PolicyConfig, RulesConfig
from rules.engine import RuleEngine, in_window
from rules.registry import Registry
from rules.types import (
    Action,
    Decision,
    Direction,
    Fuel,
    Outcome,
    Passage,
    PlateColour,
    PlateLayout,
    PlateRead,
    ReadStatus,
    RegistryRecord,
    VehicleClass,
)

LOCAL = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has no DST
BOX = [[105.849, 21.0255], [105.856, 21.0255], [105.856, 21.0385], [105.849, 21.0385], [105.849, 21.0255]]
SINCE = datetime(2020, 1, 1, tzinfo=UTC)

CONFIG: dict[str, Any] = {
    "zones": [{"id": "hk-area1", "name": "Area 1", "effective_from": "2026-07-01",
               "geometry": {"type": "Polygon", "coordinates": [BOX]}}],
    "gateways": [{"camera_id": "cam-1", "gateway_id": "gw-1", "zone_id": "hk-area1",
                  "gps": {"lat": 21.03, "lon": 105.852},
                  "entry_line": {"points": [[0, 360], [1280, 360]], "inside_side": "right"}}],
    "exemptions": {"plate_colours": ["red", "blue"], "registry_tags": ["priority"]},
    "policies": [
        {"id": "evening-ban", "zone_ids": ["hk-area1"], "vehicle_classes": ["motorcycle", "car"],
         "days": ["fri", "sat", "sun"], "window": {"start": "19:00", "end": "24:00"},
         "effective_from": "2026-07-01", "action": "fine", "legal_reference": "Decree 168/2024 Art. 6 cl. 5 pt. i",
         "liability": "per_day"},
        {"id": "fossil-moto", "zone_ids": ["hk-area1"], "vehicle_classes": ["motorcycle"],
         "fuels": ["petrol", "diesel"], "effective_from": "2026-07-01", "action": "warn", "liability": "per_entry"},
        {"id": "old-car", "zone_ids": ["hk-area1"], "vehicle_classes": ["car"], "max_emission_level": 3,
         "effective_from": "2026-07-01", "action": "inform", "liability": "per_day"},
    ],
}

RECORDS = [
    RegistryRecord("30A12345", VehicleClass.CAR, Fuel.PETROL, 5, False, SINCE),  # clean car
    RegistryRecord("30B12345", VehicleClass.CAR, Fuel.DIESEL, 2, False, SINCE),  # old car
    RegistryRecord("29AA12345", VehicleClass.MOTORCYCLE, Fuel.PETROL, None, False, SINCE),
    RegistryRecord("29AB12345", VehicleClass.MOTORCYCLE, Fuel.ELECTRIC, None, False, SINCE),
    RegistryRecord("29AC12345", VehicleClass.MOTORCYCLE, Fuel.UNKNOWN, None, False, SINCE),
    RegistryRecord("30C12345", VehicleClass.CAR, Fuel.PETROL, 5, False, SINCE, exemptions=("priority",)),
    RegistryRecord("30D12345", VehicleClass.CAR, Fuel.PETROL, 5, False, SINCE, permits=("hk-area1",)),
    RegistryRecord("30E12345", VehicleClass.CAR, Fuel.PETROL, 5, False, SINCE, permits=("ring1-pilot",)),
    RegistryRecord("30F12345", VehicleClass.UNKNOWN, Fuel.PETROL, 5, False, SINCE),
    # Re-issued plate: a petrol motorbike until 4 Jul 2026 local midnight, then an electric one.
    RegistryRecord("29AD12345", VehicleClass.MOTORCYCLE, Fuel.PETROL, None, False, SINCE,
                   datetime(2026, 7, 4, tzinfo=LOCAL)),
    RegistryRecord("29AD12345", VehicleClass.MOTORCYCLE, Fuel.ELECTRIC, None, False,
                   datetime(2026, 7, 4, tzinfo=LOCAL)),
]

ENGINE = RuleEngine(RulesConfig.model_validate(CONFIG), Registry.from_records(RECORDS))
FRI_2000 = datetime(2026, 7, 3, 20, 0, tzinfo=LOCAL)  # 3 Jul 2026 is a Friday
TUE_1000 = datetime(2026, 7, 7, 10, 0, tzinfo=LOCAL)


def passage(text: str = "30A12345", at: datetime = FRI_2000, *, colour: PlateColour = PlateColour.WHITE,
            direction: Direction = Direction.ENTRY, camera: str = "cam-1",
            vehicle_class: VehicleClass = VehicleClass.CAR, track_id: int = 7,
            colour_confidence: float = 1.0) -> Passage:
    if text:
        plate = PlateRead(ReadStatus.READ, text, (text,), PlateLayout.ONE_LINE, colour, 0.9, colour_confidence)
    else:
        plate = PlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, reason="glare")
    return Passage(camera, track_id, at, at - timedelta(seconds=2), at, vehicle_class, plate, direction)


def decide(*args: Any, **kwargs: Any) -> Decision:
    return ENGINE.decide(passage(*args, **kwargs))


@pytest.mark.parametrize(("at", "outcome"), [
    (datetime(2026, 7, 3, 18, 59, 59, tzinfo=LOCAL), Outcome.COMPLIANT),  # Fri, one second early
    (datetime(2026, 7, 3, 19, 0, 0, tzinfo=LOCAL), Outcome.VIOLATION),  # start inclusive
    (datetime(2026, 7, 3, 23, 59, 59, 999000, tzinfo=LOCAL), Outcome.VIOLATION),  # last instant before 24:00
    (datetime(2026, 7, 4, 0, 0, 0, tzinfo=LOCAL), Outcome.COMPLIANT),  # Fri→Sat midnight: end exclusive
    (datetime(2026, 7, 4, 19, 30, tzinfo=LOCAL), Outcome.VIOLATION),  # Saturday evening
    (datetime(2026, 7, 5, 23, 59, 59, tzinfo=LOCAL), Outcome.VIOLATION),  # Sunday, last second
    (datetime(2026, 7, 6, 0, 0, 0, tzinfo=LOCAL), Outcome.COMPLIANT),  # Monday midnight
    (datetime(2026, 7, 2, 20, 0, tzinfo=LOCAL), Outcome.COMPLIANT),  # Thursday evening
    (datetime(2026, 7, 3, 12, 0, 0, tzinfo=UTC), Outcome.VIOLATION),  # 12:00 UTC = 19:00 local
    (datetime(2026, 7, 3, 11, 59, 59, tzinfo=UTC), Outcome.COMPLIANT),  # 18:59:59 local
    (datetime(2026, 7, 3, 16, 59, 59, tzinfo=UTC), Outcome.VIOLATION),  # 23:59:59 local Friday
    (datetime(2026, 7, 3, 17, 0, 0, tzinfo=UTC), Outcome.COMPLIANT),  # 00:00 Saturday local
])
def test_evening_ban_window_edges(at: datetime, outcome: Outcome) -> None:
    decision = decide("30A12345", at)
    assert decision.outcome is outcome, decision.reasons
    if outcome is Outcome.VIOLATION:
        assert (decision.policy_id, decision.action) == ("evening-ban", Action.FINE)
        assert decision.legal_reference == "Decree 168/2024 Art. 6 cl. 5 pt. i"


def test_liability_window_per_day_is_the_local_date() -> None:
    assert decide("30A12345", datetime(2026, 7, 3, 13, 0, tzinfo=UTC)).liability_window == "2026-07-03"
    # 23:30 UTC Monday is 06:30 Tuesday local: the local date, not the UTC one.
    early = decide("30B12345", datetime(2026, 7, 6, 23, 30, tzinfo=UTC))
    assert (early.policy_id, early.liability_window) == ("old-car", "2026-07-07")


@pytest.mark.parametrize(("at", "outcome"), [
    (datetime(2026, 7, 7, 6, 59, 59, 999999, tzinfo=LOCAL), Outcome.COMPLIANT),
    (datetime(2026, 7, 7, 7, 0, tzinfo=LOCAL), Outcome.VIOLATION),
    (datetime(2026, 7, 7, 8, 59, 59, tzinfo=LOCAL), Outcome.VIOLATION),
    (datetime(2026, 7, 7, 9, 0, tzinfo=LOCAL), Outcome.COMPLIANT),  # end exclusive
])
def test_daytime_window_edges(at: datetime, outcome: Outcome) -> None:
    config = CONFIG | {"policies": [{"id": "rush", "zone_ids": ["hk-area1"], "window": {"start": "07:00",
                                     "end": "09:00"}, "effective_from": "2026-07-01", "action": "warn"}]}
    engine = RuleEngine(RulesConfig.model_validate(config), Registry.from_records(RECORDS))
    assert engine.decide(passage("30A12345", at)).outcome is outcome


def test_liability_window_per_entry_names_the_track() -> None:
    decision = decide("29AA12345", TUE_1000, vehicle_class=VehicleClass.MOTORCYCLE, track_id=42)
    assert (decision.outcome, decision.policy_id, decision.action) == (Outcome.VIOLATION, "fossil-moto", Action.WARN)
    assert decision.liability_window == "entry:track-42@20260707T025958.000000Z"
    other = decide("29AA12345", TUE_1000, vehicle_class=VehicleClass.MOTORCYCLE, track_id=43)
    assert other.liability_window != decision.liability_window


def test_most_severe_action_wins() -> None:
    decision = decide("29AA12345", FRI_2000, vehicle_class=VehicleClass.MOTORCYCLE)
    assert (decision.policy_id, decision.action) == ("evening-ban", Action.FINE)
    assert any(r.startswith("policy fossil-moto: applies") for r in decision.reasons)
    old_car = decide("30B12345", TUE_1000)
    assert (old_car.outcome, old_car.action) == (Outcome.VIOLATION, Action.INFORM)


@pytest.mark.parametrize(("text", "kwargs", "outcome"), [
    ("", {}, Outcome.NEEDS_REVIEW),  # unreadable: never fined
    ("30K99999", {}, Outcome.NEEDS_REVIEW),  # valid plate, no registry record
    ("30A12345", {"camera": "cam-unknown"}, Outcome.NEEDS_REVIEW),
    ("30K99999", {"colour": PlateColour.RED}, Outcome.EXEMPT),  # military: exempt before the registry
    ("30A12345", {"colour": PlateColour.BLUE}, Outcome.EXEMPT),
    ("30C12345", {}, Outcome.EXEMPT),  # priority tag
    ("30D12345", {}, Outcome.EXEMPT),  # permit for this zone
    ("30E12345", {}, Outcome.VIOLATION),  # permit for another zone only
    ("30A12345", {"direction": Direction.EXIT}, Outcome.COMPLIANT),
    ("30A12345", {"direction": Direction.UNKNOWN}, Outcome.NEEDS_REVIEW),
    ("30A12345", {"colour": PlateColour.UNCERTAIN}, Outcome.NEEDS_REVIEW),  # could be an exempt colour
    ("29AC12345", {"at": TUE_1000, "vehicle_class": VehicleClass.MOTORCYCLE}, Outcome.NEEDS_REVIEW),  # fuel unknown
    ("29AB12345", {"at": TUE_1000, "vehicle_class": VehicleClass.MOTORCYCLE}, Outcome.COMPLIANT),  # electric
    ("30A12345", {"at": datetime(2026, 6, 26, 20, 0, tzinfo=LOCAL)}, Outcome.COMPLIANT),  # zone not yet in force
])
def test_outcomes(text: str, kwargs: dict[str, Any], outcome: Outcome) -> None:
    decision = decide(text, **kwargs)
    assert decision.outcome is outcome, decision.reasons
    if outcome is not Outcome.VIOLATION:
        assert decision.liability_window == ""


def test_unreadable_plate_is_review_even_in_the_ban_window() -> None:
    decision = decide("", FRI_2000)
    assert decision.outcome is Outcome.NEEDS_REVIEW and decision.action is None
    assert "unreadable" in decision.reasons[-1]


def test_reissued_plate_uses_the_record_valid_at_event_time() -> None:
    before = decide("29AD12345", datetime(2026, 7, 3, 10, 0, tzinfo=LOCAL), vehicle_class=VehicleClass.MOTORCYCLE)
    after = decide("29AD12345", datetime(2026, 7, 4, 10, 0, tzinfo=LOCAL), vehicle_class=VehicleClass.MOTORCYCLE)
    assert before.outcome is Outcome.VIOLATION and before.registry_record is not None
    assert before.registry_record.fuel is Fuel.PETROL
    assert after.outcome is Outcome.COMPLIANT and after.registry_record is not None
    assert after.registry_record.fuel is Fuel.ELECTRIC


def test_vehicle_class_falls_back_to_the_detector_when_registry_does_not_know() -> None:
    assert decide("30F12345", FRI_2000, vehicle_class=VehicleClass.CAR).outcome is Outcome.VIOLATION
    assert decide("30F12345", FRI_2000, vehicle_class=VehicleClass.BUS).outcome is Outcome.COMPLIANT
    assert decide("30F12345", FRI_2000, vehicle_class=VehicleClass.UNKNOWN).outcome is Outcome.NEEDS_REVIEW


def test_reasons_explain_without_plate_text() -> None:
    for text in ("30A12345", "30K99999", "30C12345", "29AA12345"):
        decision = decide(text)
        assert decision.reasons and decision.zone_id == "hk-area1"
        assert not any(text in reason for reason in decision.reasons)
    assert any("policy evening-ban: applies" in r for r in decide("30A12345").reasons)


def test_wrapping_window_belongs_to_the_day_it_starts() -> None:
    config = CONFIG | {"policies": [{"id": "night", "zone_ids": ["hk-area1"], "days": ["fri"],
                                     "window": {"start": "22:00", "end": "06:00"}, "effective_from": "2026-07-01",
                                     "action": "warn"}]}
    engine = RuleEngine(RulesConfig.model_validate(config), Registry.from_records(RECORDS))
    cases = {datetime(2026, 7, 3, 21, 59, tzinfo=LOCAL): Outcome.COMPLIANT,
             datetime(2026, 7, 3, 22, 0, tzinfo=LOCAL): Outcome.VIOLATION,
             datetime(2026, 7, 4, 5, 59, tzinfo=LOCAL): Outcome.VIOLATION,  # Saturday early = Friday's night
             datetime(2026, 7, 4, 6, 0, tzinfo=LOCAL): Outcome.COMPLIANT,
             datetime(2026, 7, 3, 5, 0, tzinfo=LOCAL): Outcome.COMPLIANT}  # Friday early = Thursday's night
    for at, outcome in cases.items():
        assert engine.decide(passage("30A12345", at)).outcome is outcome, at


@pytest.mark.parametrize(("hour", "minute", "inside"), [
    (23, 0, True), (5, 59, True), (6, 0, False), (12, 0, False),  # from a fresh-user trial
    (22, 0, True), (21, 59, False), (0, 0, True), (23, 59, True),
])
def test_a_window_ending_before_it_starts_wraps_past_midnight(hour: int, minute: int, inside: bool) -> None:
    policy = PolicyConfig.model_validate({"id": "night", "zone_ids": ["hk-area1"], "effective_from": "2026-07-01",
                                          "window": {"start": "22:00", "end": "06:00"}, "action": "warn"})
    for day in range(6, 13):  # every weekday, Mon 6 Jul 2026 to Sun 12 Jul: all days are in the policy
        assert in_window(policy, datetime(2026, 7, day, hour, minute, tzinfo=LOCAL)) is inside, (day, hour, minute)


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown (IANA time zone|timezone)"):
        RuleEngine(RulesConfig.model_validate(CONFIG | {"timezone": "Mars/Olympus"}), Registry())


def test_decisions_are_deterministic() -> None:
    assert decide("29AA12345", FRI_2000) == decide("29AA12345", FRI_2000)


@given(st.datetimes(min_value=datetime(2026, 7, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_clean_car_is_fined_exactly_in_local_fri_to_sun_evenings(at: datetime) -> None:
    local = at.astimezone(LOCAL)
    expected = local.weekday() in (4, 5, 6) and local.hour >= 19 and local.date() >= datetime(2026, 7, 1).date()
    decision = ENGINE.decide(passage("30A12345", at))
    assert (decision.outcome is Outcome.VIOLATION) is expected
    if expected:
        assert decision.liability_window == local.date().isoformat()


@pytest.mark.parametrize(("colour_confidence", "outcome"), [(0.95, Outcome.EXEMPT), (0.9, Outcome.EXEMPT),
                                                           (0.79, Outcome.NEEDS_REVIEW), (0.0, Outcome.NEEDS_REVIEW)])
def test_an_exempt_colour_exempts_only_when_seen_surely(colour_confidence: float, outcome: Outcome) -> None:
    # A fresh-user trial: white plates under a warm cast were claimed blue at 0.75 and 0.79, and blue exempts
    # before the registry is asked.
    decision = decide("30A12345", colour=PlateColour.BLUE, colour_confidence=colour_confidence)
    assert decision.outcome is outcome, decision.reasons
    if outcome is Outcome.NEEDS_REVIEW:
        assert any("below 0.9" in reason for reason in decision.reasons)

"""The engine, second table: signed permits, zone phases, colour rules, liability de-duplication, and properties
that must hold for every input (unknown and unreadable plates are never fined, exempt colours always exempt)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import RulesConfig
from rules.engine import RuleEngine
from rules.liability import LiabilityLedger
from rules.permits import SignedPermit, sign_permit
from rules.registry import Registry
from rules.types import Action, Direction, Fuel, Outcome, PlateColour, RegistryRecord, VehicleClass
from sinks.schema import violation_id
from tests.unit.test_rule_engine import CONFIG, FRI_2000, LOCAL, RECORDS, SINCE, TUE_1000, passage

KEY = b"permit-office-secret-0001"


def permit(plate: str = "30A12345", zones: tuple[str, ...] = ("hk-area1",), start: date = date(2026, 7, 1),
           end: date = date(2026, 7, 31), key: bytes = KEY, permit_id: str = "P-1") -> str:
    return sign_permit(SignedPermit(permit_id, plate, zones, start, end), key)


SIGNED_RECORDS = [
    RegistryRecord("30G12345", VehicleClass.CAR, Fuel.PETROL, 5, False, SINCE, permits=(permit("30G12345"),)),
    RegistryRecord("30H12345", VehicleClass.CAR, Fuel.PETROL, 5, False, SINCE,
                   permits=(permit("30H12345", end=date(2026, 7, 2)),)),
]
REGISTRY = Registry.from_records([*RECORDS, *SIGNED_RECORDS])
RULES = RulesConfig.model_validate(CONFIG)
ENGINE = RuleEngine(RULES, REGISTRY, permit_key=KEY)
NO_KEY_ENGINE = RuleEngine(RULES, REGISTRY)


def with_permits(*payloads: str, **kwargs: Any) -> Any:
    from dataclasses import replace

    return replace(passage(**kwargs), permit_payloads=payloads)


@pytest.mark.parametrize(("payloads", "outcome", "reason"), [
    ((permit(),), Outcome.EXEMPT, "permit P-1: valid"),
    ((permit(end=date(2026, 7, 2)),), Outcome.VIOLATION, "permit P-1: expired"),  # Friday 3 Jul: one day late
    ((permit(start=date(2026, 7, 4)),), Outcome.VIOLATION, "permit P-1: not yet valid"),
    ((permit(plate="30A99999"),), Outcome.VIOLATION, "permit P-1: wrong plate"),  # someone else's permit
    ((permit(zones=("ring1-pilot",)),), Outcome.VIOLATION, "permit P-1: wrong zone"),
    ((permit(key=b"another-secret-key-000000"),), Outcome.VIOLATION, "permit: unknown key"),
    ((permit()[:-3] + "AAA",), Outcome.VIOLATION, "permit: bad signature"),  # tampered
    (("LEZP1.garbage",), Outcome.VIOLATION, "permit: malformed"),
    ((permit(end=date(2026, 7, 2)), permit(permit_id="P-2")), Outcome.EXEMPT, "permit P-2: valid"),  # any valid one
])
def test_permit_shown_on_the_vehicle(payloads: tuple[str, ...], outcome: Outcome, reason: str) -> None:
    decision = ENGINE.decide(with_permits(*payloads))
    assert decision.outcome is outcome, decision.reasons
    assert reason in decision.reasons
    assert not any("30A12345" in r for r in decision.reasons)  # reasons carry the permit id, never the plate
    if outcome is Outcome.EXEMPT:
        assert decision.permit_id == reason.split()[1].rstrip(":")


def test_signed_permit_shown_by_an_unregistered_plate_still_exempts() -> None:
    decision = ENGINE.decide(with_permits(permit("30K99999"), text="30K99999"))
    assert decision.outcome is Outcome.EXEMPT and decision.registry_record is None


@pytest.mark.parametrize(("text", "outcome"), [("30G12345", Outcome.EXEMPT), ("30H12345", Outcome.VIOLATION)])
def test_signed_permit_in_the_registry(text: str, outcome: Outcome) -> None:
    assert ENGINE.decide(passage(text)).outcome is outcome


def test_without_a_key_a_signed_permit_sends_a_violation_to_review() -> None:
    shown = NO_KEY_ENGINE.decide(with_permits(permit()))
    assert shown.outcome is Outcome.NEEDS_REVIEW and "permit: no key" in shown.reasons
    assert NO_KEY_ENGINE.decide(passage("30G12345")).outcome is Outcome.NEEDS_REVIEW
    assert NO_KEY_ENGINE.decide(passage("30A12345")).outcome is Outcome.VIOLATION  # no permit claimed: unchanged


PHASED: dict[str, Any] = CONFIG | {
    "zones": [CONFIG["zones"][0] | {"phases": [
        {"name": "pilot", "effective_from": "2026-07-01", "effective_to": "2027-12-31"},
        {"name": "14-wards", "effective_from": "2028-01-01", "effective_to": "2029-12-31"},
        {"name": "36-wards", "effective_from": "2030-01-01"}]}],
    "policies": [CONFIG["policies"][0],
                 {"id": "phase2-old-car", "zone_ids": ["hk-area1"], "vehicle_classes": ["car"],
                  "max_emission_level": 4, "effective_from": "2028-01-01", "action": "fine", "liability": "per_day"}],
}
PHASED_ENGINE = RuleEngine(RulesConfig.model_validate(PHASED), REGISTRY)


@pytest.mark.parametrize(("at", "phase", "outcome"), [
    (datetime(2026, 6, 30, 23, 59, 59, tzinfo=LOCAL), None, Outcome.COMPLIANT),  # zone not yet in force
    (datetime(2026, 7, 1, 0, 0, tzinfo=LOCAL), "pilot", Outcome.COMPLIANT),  # Wednesday: no evening ban
    (datetime(2027, 12, 31, 23, 59, 59, tzinfo=LOCAL), "pilot", Outcome.VIOLATION),  # Friday evening ban
    (datetime(2028, 1, 1, 0, 0, tzinfo=LOCAL), "14-wards", Outcome.VIOLATION),  # phase-2 rule from its first second
    (datetime(2027, 12, 31, 16, 59, 59, tzinfo=UTC), "pilot", Outcome.VIOLATION),
    (datetime(2027, 12, 31, 17, 0, 0, tzinfo=UTC), "14-wards", Outcome.VIOLATION),  # = 2028-01-01 00:00 local
    (datetime(2030, 1, 1, 0, 0, tzinfo=LOCAL), "36-wards", Outcome.VIOLATION),
])
def test_phase_start_dates(at: datetime, phase: str | None, outcome: Outcome) -> None:
    decision = PHASED_ENGINE.decide(passage("30B12345", at))  # diesel car, emission level 2
    assert (decision.zone_phase, decision.outcome) == (phase, outcome), decision.reasons
    if at.astimezone(LOCAL).date() >= date(2028, 1, 1):
        assert decision.policy_id == "phase2-old-car"


COLOUR_RULES: dict[str, Any] = CONFIG | {
    "exemptions": {"plate_colours": ["red", "blue", "green"]},
    "policies": [{"id": "commercial-yellow", "zone_ids": ["hk-area1"], "plate_colours": ["yellow"],
                  "effective_from": "2026-07-01", "action": "warn"}],
}
COLOUR_ENGINE = RuleEngine(RulesConfig.model_validate(COLOUR_RULES), REGISTRY)


@pytest.mark.parametrize(("colour", "outcome"), [
    (PlateColour.YELLOW, Outcome.VIOLATION),
    (PlateColour.WHITE, Outcome.COMPLIANT),
    (PlateColour.RED, Outcome.EXEMPT),  # military
    (PlateColour.BLUE, Outcome.EXEMPT),  # state
    (PlateColour.GREEN, Outcome.EXEMPT),  # Hanoi's proposed clean-vehicle colour, configured as exempt
    (PlateColour.UNCERTAIN, Outcome.NEEDS_REVIEW),  # never guessed into yellow
])
def test_colour_rules(colour: PlateColour, outcome: Outcome) -> None:
    assert COLOUR_ENGINE.decide(passage("30A12345", TUE_1000, colour=colour)).outcome is outcome


def test_per_day_liability_is_one_id_per_vehicle_policy_and_day_across_cameras() -> None:
    config = CONFIG | {"gateways": [*CONFIG["gateways"],
                                    CONFIG["gateways"][0] | {"camera_id": "cam-2", "gateway_id": "gw-2"}]}
    engine = RuleEngine(RulesConfig.model_validate(config), REGISTRY)
    passages = [passage("30A12345", FRI_2000, camera="cam-1", track_id=1),
                passage("30A12345", FRI_2000 + timedelta(minutes=40), camera="cam-2", track_id=9),
                passage("30A12345", FRI_2000 + timedelta(hours=23, minutes=30), camera="cam-1", track_id=2)]
    ledger = LiabilityLedger()
    ids, charged = [], []
    for p in passages:
        d = engine.decide(p)
        assert d.outcome is Outcome.VIOLATION and d.liability == "per_day"
        ids.append(violation_id(p.camera_id, p.track_id, p.first_seen, d.policy_id or "", d.liability_window,
                                liability=d.liability, plate=p.plate.text))
        charged.append(ledger.first_charge(p, d))
    assert ids[0] == ids[1] != ids[2]  # Friday twice (two cameras) = one liability; Saturday 19:30 a new one
    assert charged == [True, False, True]


def test_per_entry_liability_is_never_merged() -> None:
    ledger = LiabilityLedger()
    for track in (1, 2, 3):
        p = passage("29AA12345", TUE_1000, vehicle_class=VehicleClass.MOTORCYCLE, track_id=track)
        d = ENGINE.decide(p)
        assert (d.policy_id, d.liability) == ("fossil-moto", "per_entry")
        assert ledger.first_charge(p, d)


def test_ledger_is_bounded_by_event_days() -> None:
    ledger = LiabilityLedger(keep_days=2)
    for day in range(30):
        at = FRI_2000 + timedelta(days=7 * day)
        assert ledger.first_charge(passage("30A12345", at), ENGINE.decide(passage("30A12345", at)))
    assert len(ledger) <= 3


PLATES = st.from_regex(r"\A(29|30|31|51)[A-HK-NP-Z][0-9]{5}\Z")
INSTANTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2031, 1, 1), timezones=st.just(UTC))
COLOURS = st.sampled_from([PlateColour.WHITE, PlateColour.YELLOW, PlateColour.UNCERTAIN])


@given(PLATES, INSTANTS, COLOURS, st.sampled_from(list(Direction)))
def test_unknown_plates_are_never_fined(text: str, at: datetime, colour: PlateColour, direction: Direction) -> None:
    if REGISTRY.lookup(text, at) is not None:
        return
    decision = ENGINE.decide(passage(text, at, colour=colour, direction=direction))
    in_force = at.astimezone(LOCAL).date() >= date(2026, 7, 1)
    assert decision.outcome is (Outcome.NEEDS_REVIEW if in_force else Outcome.COMPLIANT), decision.reasons


@given(INSTANTS, st.sampled_from(list(PlateColour)), st.sampled_from(list(VehicleClass)))
def test_unreadable_plates_are_never_fined(at: datetime, colour: PlateColour, cls: VehicleClass) -> None:
    assert ENGINE.decide(passage("", at, colour=colour, vehicle_class=cls)).outcome is not Outcome.VIOLATION


@given(st.sampled_from([r.plate for r in RECORDS]), INSTANTS, st.sampled_from([PlateColour.RED, PlateColour.BLUE]))
def test_exempt_colours_are_exempt_whenever_the_zone_is_in_force(text: str, at: datetime,
                                                                  colour: PlateColour) -> None:
    decision = ENGINE.decide(passage(text, at, colour=colour))
    in_force = at.astimezone(LOCAL).date() >= date(2026, 7, 1)
    assert decision.outcome is (Outcome.EXEMPT if in_force else Outcome.COMPLIANT)


@given(INSTANTS, st.integers(min_value=0, max_value=10_000))
def test_violation_ids_are_stable_and_actions_are_the_most_severe(at: datetime, track: int) -> None:
    p = passage("29AA12345", at, vehicle_class=VehicleClass.MOTORCYCLE, track_id=track)
    first, again = ENGINE.decide(p), ENGINE.decide(p)
    assert first == again
    if first.outcome is Outcome.VIOLATION:
        local = at.astimezone(LOCAL)
        evening = local.weekday() >= 4 and local.hour >= 19
        assert first.action is (Action.FINE if evening else Action.WARN)

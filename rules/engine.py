"""The decision engine: one passage in, one `Decision` out. Pure and deterministic (event time only, no clock).

Order of the steps, each written into `Decision.reasons` (never the plate text: it is personal data):
1. camera → gateway → zone; a camera without a gateway needs review, a zone not in force is compliant.
2. an unreadable or ungrammatical plate needs review (never fined).
3. an exempt plate colour is exempt *before* the registry lookup: military (red) and state (blue) plates are not in
   the civil registry and must not flood the review queue.
4. a signed permit shown on the vehicle (QR payload, rules.permits) valid for this plate, zone and local date →
   exempt, even without a registry record (it is signed for the plate); a tampered, expired or foreign one is
   recorded in the reasons and ignored.
5. registry record valid at event time; none → needs review (the camera never decides from the image alone).
   Its exemption tags and permits covering the zone on the local date (plain, or signed and verified) → exempt.
   A signed permit the box cannot verify (no key) turns a would-be violation into review.
6. every policy of the zone: effective dates, local weekday and time window, direction, vehicle class (registry,
   else the passage's detector class), fuel, emission level, commercial use, plate colour. A policy that would
   apply but cannot be decided (unknown fuel, uncertain colour, unknown direction...) makes the passage need review
   unless another policy is a clear violation.
7. violation → the most severe action (fine > warn > inform; ties: first in the config). A violation on a plate
   whose colour is uncertain needs review when some colour is exempt: the exemption could not be ruled out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules import plate_grammar
from rules.config import WEEKDAYS, PolicyConfig, RulesConfig, ZoneConfig
from rules.permits import check_permits, is_signed_permit
from rules.registry import RegistryLookup, permit_covers
from rules.types import (
    Action,
    Decision,
    Direction,
    Fuel,
    Outcome,
    Passage,
    PlateColour,
    ReadStatus,
    RegistryRecord,
    VehicleClass,
)
from rules.zones import active_phase, zone_active

SEVERITY: dict[Action, int] = {Action.INFORM: 1, Action.WARN: 2, Action.FINE: 3}


@dataclass(frozen=True)
class _Verdict:
    """A policy's answer for one passage: applies (True), does not (False) or cannot be decided (None)."""

    applies: bool | None
    reason: str


class RuleEngine:
    """`permit_key`: the key of signed permits (rules.permits), from the environment; None: they cannot be checked."""

    def __init__(self, config: RulesConfig, registry: RegistryLookup, permit_key: bytes | None = None) -> None:
        try:
            self._tz = ZoneInfo(config.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {config.timezone!r}") from exc
        self._config = config
        self._registry = registry
        self._permit_key = permit_key
        self._zones: dict[str, ZoneConfig] = {z.id: z for z in config.zones}

    def decide(self, passage: Passage) -> Decision:
        gateway = self._config.gateway_for_camera(passage.camera_id)
        if gateway is None:
            return Decision(Outcome.NEEDS_REVIEW, None,
                            reasons=(f"camera {passage.camera_id} has no gateway configured",))
        zone = self._zones[gateway.zone_id]
        phase = active_phase(zone, passage.event_time, self._tz)
        decision = self._decide_in_zone(passage, zone, gateway.gateway_id)
        return replace(decision, zone_phase=phase.name if phase else None)

    def _decide_in_zone(self, passage: Passage, zone: ZoneConfig, gateway_id: str) -> Decision:
        local = passage.event_time.astimezone(self._tz)
        reasons = [f"camera {passage.camera_id} is gateway {gateway_id} of zone {zone.id}",
                   f"event time {local.isoformat()} local ({self._config.timezone})"]
        if not zone_active(zone, passage.event_time, self._tz):
            reasons.append(f"zone {zone.id} not in force on {local.date().isoformat()}")
            return Decision(Outcome.COMPLIANT, zone.id, reasons=tuple(reasons))

        plate = passage.plate
        if plate.status is ReadStatus.UNREADABLE:
            reasons.append("plate unreadable: sent to review, never fined")
            return Decision(Outcome.NEEDS_REVIEW, zone.id, reasons=tuple(reasons))
        if not plate_grammar.is_valid(plate.text):
            reasons.append("plate text does not match the Vietnamese plate grammar: sent to review")
            return Decision(Outcome.NEEDS_REVIEW, zone.id, reasons=tuple(reasons))
        reasons.append(f"plate read, colour {plate.colour.value}")
        exemptions = self._config.exemptions
        if plate.colour in exemptions.plate_colours:
            if plate.colour_confidence < exemptions.min_colour_confidence:
                # A warm-lit white plate can look blue or red enough to be claimed so, but not surely.
                reasons.append(f"plate colour {plate.colour.value} is exempt but was seen at confidence "
                               f"{plate.colour_confidence:.2f} (below {exemptions.min_colour_confidence:g}): "
                               "sent to review")
                return Decision(Outcome.NEEDS_REVIEW, zone.id, reasons=tuple(reasons))
            reasons.append(f"plate colour {plate.colour.value} is exempt")
            return Decision(Outcome.EXEMPT, zone.id, reasons=tuple(reasons))
        # A permit shown on the vehicle (QR) is signed for its plate: it holds even without a registry record.
        shown = self._signed_permit(passage.permit_payloads, plate.text, zone.id, local, reasons)
        if shown is not None:
            return Decision(Outcome.EXEMPT, zone.id, reasons=tuple(reasons), permit_id=shown)

        record = self._registry.lookup(plate.text, passage.event_time)
        if record is None:
            reasons.append("plate has no registry record valid at event time: sent to review")
            return Decision(Outcome.NEEDS_REVIEW, zone.id, reasons=tuple(reasons))
        reasons.append(f"registry: {record.vehicle_class.value}, fuel {record.fuel.value}, emission level "
                       f"{record.emission_level if record.emission_level is not None else 'unknown'}, "
                       f"{'commercial' if record.commercial else 'non-commercial'}")
        exempt_tags = sorted(set(record.exemptions) & set(self._config.exemptions.registry_tags))
        if exempt_tags:
            reasons.append(f"registry exemption {', '.join(exempt_tags)}")
            return Decision(Outcome.EXEMPT, zone.id, reasons=tuple(reasons), registry_record=record)
        if permit_covers(record.permits, zone.id, local.date()):
            reasons.append(f"valid permit for zone {zone.id}")
            return Decision(Outcome.EXEMPT, zone.id, reasons=tuple(reasons), registry_record=record)
        signed = tuple(p for p in record.permits if is_signed_permit(p))
        registered = self._signed_permit(signed, plate.text, zone.id, local, reasons)
        if registered is not None:
            return Decision(Outcome.EXEMPT, zone.id, reasons=tuple(reasons), registry_record=record,
                            permit_id=registered)

        decision = self._apply_policies(passage, zone, local, record, reasons)
        unverifiable = self._permit_key is None and (signed or passage.permit_payloads)
        if decision.outcome is Outcome.VIOLATION and unverifiable:
            # The vehicle may hold a permit this box cannot check: a person decides, not the camera.
            return replace(decision, outcome=Outcome.NEEDS_REVIEW, liability_window="",
                           reasons=(*decision.reasons, "a signed permit could not be verified (no permit key on "
                                                        "this box): sent to review"))
        return decision

    def _signed_permit(self, payloads: Sequence[str], plate: str, zone_id: str, local: datetime,
                       reasons: list[str]) -> str | None:
        """The id of the first signed permit valid for this plate, zone and local date; every check is recorded."""
        for check in check_permits(payloads, self._permit_key, plate=plate, zone_id=zone_id, on=local.date()):
            reasons.append(check.describe())
            if check.valid and check.permit is not None:
                return check.permit.permit_id
        return None

    def _apply_policies(self, passage: Passage, zone: ZoneConfig, local: datetime, record: RegistryRecord,
                        reasons: list[str]) -> Decision:
        matched: list[PolicyConfig] = []
        undecided = False
        for policy in self._config.policies:
            if zone.id not in policy.zone_ids:
                continue
            verdict = evaluate_policy(policy, passage, local, record)
            reasons.append(f"policy {policy.id}: {verdict.reason}")
            if verdict.applies:
                matched.append(policy)
            elif verdict.applies is None:
                undecided = True
        if not matched:
            outcome = Outcome.NEEDS_REVIEW if undecided else Outcome.COMPLIANT
            return Decision(outcome, zone.id, reasons=tuple(reasons), registry_record=record)
        chosen = max(matched, key=lambda p: SEVERITY[p.action])  # max keeps the first of equals: config order
        if passage.plate.colour is PlateColour.UNCERTAIN and self._config.exemptions.plate_colours:
            reasons.append("plate colour uncertain and some colours are exempt: sent to review before any action")
            return Decision(Outcome.NEEDS_REVIEW, zone.id, policy_id=chosen.id, action=chosen.action,
                            legal_reference=chosen.legal_reference, reasons=tuple(reasons), registry_record=record)
        reasons.append(f"violation of {chosen.id} ({chosen.action.value})")
        return Decision(Outcome.VIOLATION, zone.id, policy_id=chosen.id, action=chosen.action,
                        legal_reference=chosen.legal_reference, reasons=tuple(reasons), registry_record=record,
                        liability_window=liability_window(chosen, passage, local), liability=chosen.liability)


def liability_window(policy: PolicyConfig, passage: Passage, local: datetime) -> str:
    """What one liability covers, for the deterministic violation id.

    per_day: the local date of the event ("2026-07-03"); the violation id is then keyed by plate (sinks.schema), so
    every passage of one vehicle that day, at any camera of any box, carries the same id.
    per_entry: the track, qualified by its first-seen instant so a tracker restart reusing ids cannot collide.
    """
    if policy.liability == "per_day":
        return local.date().isoformat()
    first_seen = passage.first_seen.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"entry:track-{passage.track_id}@{first_seen}"


def in_window(policy: PolicyConfig, local: datetime) -> bool:
    """Local weekday and time-of-day test. Start inclusive, end exclusive; a wrapping window (end before start, the
    config refuses end == start) belongs to the weekday it starts on, so "fri 22:00–06:00" covers Saturday 05:59."""
    start, end = policy.window.start_minute, policy.window.end_minute
    minute = local.hour * 60 + local.minute  # seconds are below the window's resolution: 23:59:59.999 is 23:59
    today = WEEKDAYS[local.weekday()]
    if start < end:
        return today in policy.days and start <= minute < end
    yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
    return (today in policy.days and minute >= start) or (yesterday in policy.days and minute < end)


def evaluate_policy(policy: PolicyConfig, passage: Passage, local: datetime, record: RegistryRecord) -> _Verdict:
    day = local.date()
    if day < policy.effective_from or (policy.effective_to is not None and day > policy.effective_to):
        return _Verdict(False, f"not in force on {day.isoformat()}")
    if not in_window(policy, local):
        return _Verdict(False, f"outside {'/'.join(policy.days)} {policy.window.start}–{policy.window.end}")
    checks = (_direction(policy, passage.direction), _vehicle_class(policy, record, passage),
              _fuel(policy, record.fuel), _emission(policy, record.emission_level),
              _commercial(policy, record.commercial), _colour(policy, passage.plate.colour))
    for check in checks:
        if check.applies is False:
            return check
    undecided = [c.reason for c in checks if c.applies is None]
    if undecided:
        return _Verdict(None, "cannot decide: " + "; ".join(undecided))
    return _Verdict(True, f"applies ({local.strftime('%a %H:%M')} in {policy.window.start}–{policy.window.end})")


def _direction(policy: PolicyConfig, direction: Direction) -> _Verdict:
    if policy.applies_to_direction == "any" or direction is Direction.ENTRY:
        return _Verdict(True, "")
    if direction is Direction.UNKNOWN:
        return _Verdict(None, "direction of travel unknown")
    return _Verdict(False, f"applies to entries, passage is {direction.value}")


def _vehicle_class(policy: PolicyConfig, record: RegistryRecord, passage: Passage) -> _Verdict:
    if not policy.vehicle_classes:
        return _Verdict(True, "")
    cls = record.vehicle_class if record.vehicle_class is not VehicleClass.UNKNOWN else passage.vehicle_class
    if cls is VehicleClass.UNKNOWN:
        return _Verdict(None, "vehicle class unknown")
    if cls in policy.vehicle_classes:
        return _Verdict(True, "")
    return _Verdict(False, f"vehicle class {cls.value} not targeted")


def _fuel(policy: PolicyConfig, fuel: Fuel) -> _Verdict:
    if not policy.fuels or fuel in policy.fuels:
        return _Verdict(True, "")
    if fuel is Fuel.UNKNOWN:
        return _Verdict(None, "fuel unknown")
    return _Verdict(False, f"fuel {fuel.value} not targeted")


def _emission(policy: PolicyConfig, level: int | None) -> _Verdict:
    low, high = policy.min_emission_level, policy.max_emission_level
    if low is None and high is None:
        return _Verdict(True, "")
    if level is None:
        return _Verdict(None, "emission level unknown")
    if (low is None or level >= low) and (high is None or level <= high):
        return _Verdict(True, "")
    return _Verdict(False, f"emission level {level} not targeted")


def _commercial(policy: PolicyConfig, commercial: bool) -> _Verdict:
    if policy.commercial is None or policy.commercial == commercial:
        return _Verdict(True, "")
    return _Verdict(False, "commercial use does not match")


def _colour(policy: PolicyConfig, colour: PlateColour) -> _Verdict:
    if not policy.plate_colours or colour in policy.plate_colours:
        return _Verdict(True, "")
    if colour is PlateColour.UNCERTAIN:
        return _Verdict(None, "plate colour uncertain")
    return _Verdict(False, f"plate colour {colour.value} not targeted")

"""Versioned wire schema of the messages the box publishes (pydantic v2, exported to committed JSON Schema).

Topics (major schema version in the name; a breaking change means a new topic, `*.v2`):

====================================  ====================  =====================================
topic                                 model                 Kafka message key
====================================  ====================  =====================================
``lez.plate-reads.v1``                PlateReadMessageV1    camera_id
``lez.plate-reads.audit.v1``          PlateReadMessageV1    camera_id
``lez.review.v1``                     PlateReadMessageV1    camera_id
``lez.violations.v1``                 ViolationMessageV1    violation_id
``lez.violations.audit.v1``           ViolationMessageV1    violation_id
``lez.camera-health.v1``              (pipeline's own)      camera_id
====================================  ====================  =====================================

Why these keys:

* **Plate reads keyed by camera_id**: every passage of one camera lands in one partition, so a consumer sees one
  camera's passages in publication order (the box publishes them in capture order per camera). Traffic statistics
  and "entry then exit" pairing per gateway rely on this. Plate text is deliberately not the key: unreadable plates
  have none, and keys show up in broker tooling more often than values.
* **Violations keyed by violation_id**: the data centre needs idempotence more than ordering. The id is a uuid5 over
  (camera, track, first_seen, policy, liability window) for per-entry policies, and over (plate, policy, local day)
  for per-day ones (one liability per vehicle per day, ULEZ-style, whichever camera saw it), so a replay or a
  re-delivery after a broker outage carries the same key and the same id: consumers upsert by it, and a log-compacted
  violations topic keeps exactly one record per liability. Keys spread evenly over partitions.
  See docs/data-centre.md.
* Delivery is at-least-once (durable outbox, redelivery after errors): consumers must de-duplicate by
  ``violation_id`` / ``message_id``. Across a producer error a later message may overtake an earlier one that is
  being retried; ids, not offsets, are the truth.

Determinism: every field is a pure function of (passage, decision, MessageContext) except ``published_at`` (the
wall-clock time the message was handed to the sink). Compare replays with :func:`deterministic_dump`.
Plate text is personal data (Decree 13/2023): it belongs in messages, never in INFO logs or metric labels.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.types import (
    Action,
    Decision,
    Direction,
    Fuel,
    Outcome,
    Passage,
    PlateColour,
    PlateLayout,
    ReadStatus,
    VehicleClass,
)
from sinks.evidence import EvidenceRef
from sinks.ids import LEZ_NAMESPACE as LEZ_NAMESPACE
from sinks.ids import canonical_utc as canonical_utc
from sinks.ids import passage_message_id as passage_message_id
from sinks.ids import violation_id as violation_id

SCHEMA_VERSION: Final = "1.0"
TOPIC_VIOLATIONS = "lez.violations.v1"
TOPIC_PLATE_READS = "lez.plate-reads.v1"
TOPIC_CAMERA_HEALTH = "lez.camera-health.v1"
TOPIC_VIOLATIONS_AUDIT = "lez.violations.audit.v1"
TOPIC_PLATE_READS_AUDIT = "lez.plate-reads.audit.v1"
TOPIC_REVIEW = "lez.review.v1"
ALL_TOPICS: tuple[str, ...] = (
    TOPIC_VIOLATIONS,
    TOPIC_PLATE_READS,
    TOPIC_CAMERA_HEALTH,
    TOPIC_VIOLATIONS_AUDIT,
    TOPIC_PLATE_READS_AUDIT,
    TOPIC_REVIEW,
)
VIOLATION_TOPICS = frozenset({TOPIC_VIOLATIONS, TOPIC_VIOLATIONS_AUDIT})
PLATE_READ_TOPICS = frozenset({TOPIC_PLATE_READS, TOPIC_PLATE_READS_AUDIT, TOPIC_REVIEW})

LOCAL_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")  # UTC+7, no DST (DOMAIN §4)

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OcrCandidateV1(_Frozen):
    text: str
    confidence: Unit
    source: str = ""


class PlateV1(_Frozen):
    status: ReadStatus
    text: str | None = Field(description="Compact normalised plate (A-Z0-9); null when unreadable. Personal data.")
    lines: list[str]
    layout: PlateLayout | None
    colour: PlateColour
    confidence: Unit
    colour_confidence: Unit
    candidates: list[OcrCandidateV1] = Field(description="Raw OCR hypotheses, kept for evidence and review.")

    @model_validator(mode="after")
    def _text_matches_status(self) -> PlateV1:
        if self.status is ReadStatus.READ and not self.text:
            raise ValueError("a read plate needs text")
        if self.status is ReadStatus.UNREADABLE and self.text is not None:
            raise ValueError("an unreadable plate has text null")
        return self


class DecisionV1(_Frozen):
    outcome: Outcome
    zone_id: str | None
    policy_id: str | None
    action: Action | None
    legal_reference: str
    reasons: list[str] = Field(description="Every step of the decision, in order (no plate text).")
    zone_phase: str | None = Field(default=None, description="Legal phase of the zone at event time, e.g. 'pilot'.")
    permit_id: str | None = Field(default=None, description="Signed permit that made the passage exempt.")


class EvidenceRefV1(_Frozen):
    kind: NonEmpty = Field(description="frame | plate_crop | vehicle_crop | ...")
    sha256: Sha256Hex
    path: NonEmpty = Field(description="Path inside the evidence store: <sha[:2]>/<sha>.jpg")
    bytes: int = Field(ge=0)


class GpsV1(_Frozen):
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)


class RegistryFactsV1(_Frozen):
    """The registry facts the decision used (plate → vehicle facts are date-versioned)."""

    vehicle_class: VehicleClass
    fuel: Fuel
    emission_level: int | None = Field(ge=1, le=6)
    commercial: bool
    permits: list[str]
    exemptions: list[str] = Field(default_factory=list)
    valid_from: AwareDatetime | None = Field(default=None, description="Start of the record's validity (inclusive).")
    valid_to: AwareDatetime | None = Field(default=None, description="End of validity (exclusive); null: open.")


class _PassageCoreV1(_Frozen):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    message_id: uuid.UUID = Field(description="uuid5 over camera_id|track_id|first_seen (UTC): the passage id.")
    camera_id: NonEmpty
    gateway_id: NonEmpty
    track_id: int = Field(ge=0)
    captured_at_utc: AwareDatetime = Field(description="Event time: capture time of the best frame, UTC.")
    captured_at_local: AwareDatetime = Field(description="The same instant in Asia/Ho_Chi_Minh (+07:00).")
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    direction: Direction
    vehicle_class: VehicleClass
    gps: GpsV1
    plate: PlateV1
    decision: DecisionV1
    evidence: list[EvidenceRefV1]
    models: dict[str, Sha256Hex] = Field(description="Model file name → sha256 of the weights used.")
    config_sha256: Sha256Hex
    software_version: NonEmpty
    processed_at_utc: AwareDatetime = Field(description="Processing time (not event time).")
    published_at: AwareDatetime = Field(
        description="Wall-clock time the message was handed to the sink. NON-DETERMINISTIC: excluded from replay "
        "comparisons; never use it as event time."
    )

    @field_validator("captured_at_utc", "first_seen", "last_seen", "processed_at_utc", "published_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.utcoffset() != timedelta(0):
            raise ValueError("must be UTC (offset +00:00)")
        return value

    @field_validator("captured_at_local")
    @classmethod
    def _local(cls, value: datetime) -> datetime:
        if value.utcoffset() != timedelta(hours=7):
            raise ValueError("must be Asia/Ho_Chi_Minh local time (offset +07:00)")
        return value

    @model_validator(mode="after")
    def _times_consistent(self) -> _PassageCoreV1:
        if self.captured_at_local != self.captured_at_utc:
            raise ValueError("captured_at_local is not the same instant as captured_at_utc")
        if self.first_seen > self.last_seen:
            raise ValueError("first_seen after last_seen")
        if self.message_id != passage_message_id(self.camera_id, self.track_id, self.first_seen):
            raise ValueError("message_id does not match camera_id|track_id|first_seen")
        return self


class PlateReadMessageV1(_PassageCoreV1):
    """One vehicle passage at one camera, whatever the decision (topic lez.plate-reads.v1 and its audit twin)."""

    model_config = ConfigDict(title="PlateReadMessageV1")


class ViolationMessageV1(_PassageCoreV1):
    """A violation of one LEZ policy by one passage (topic lez.violations.v1 and its audit twin)."""

    model_config = ConfigDict(title="ViolationMessageV1")

    violation_id: uuid.UUID = Field(
        description="Deterministic uuid5: per_entry over camera_id|track_id|first_seen|policy_id|liability_window; "
        "per_day over 'per_day'|plate|policy_id|liability_window (one id per vehicle, policy and local day)."
    )
    policy_id: NonEmpty
    liability: Literal["per_entry", "per_day"] = Field(
        default="per_entry", description="The policy's liability: one per entry, or one per vehicle per local day."
    )
    liability_window: str = Field(description="Liability window from the policy, e.g. '2026-07-03' (per day).")
    action: Action
    legal_reference: str
    registry: RegistryFactsV1 | None = Field(description="Registry facts used; null when the rule needed none.")

    @model_validator(mode="after")
    def _violation_consistent(self) -> ViolationMessageV1:
        if self.decision.outcome is not Outcome.VIOLATION:
            raise ValueError("a violation message needs decision.outcome == 'violation'")
        if self.decision.policy_id != self.policy_id or self.decision.action is not self.action:
            raise ValueError("policy_id/action disagree with the decision")
        if self.liability == "per_day" and not self.plate.text:
            raise ValueError("a per_day violation needs the plate text its id is keyed by")
        expected = violation_id(self.camera_id, self.track_id, self.first_seen, self.policy_id, self.liability_window,
                                liability=self.liability, plate=self.plate.text)
        if self.violation_id != expected:
            raise ValueError("violation_id does not match its inputs")
        return self


@dataclass(frozen=True)
class MessageContext:
    """Per-box facts stamped on every message; built once by the composition root."""

    gateway_id: str
    gps_lat: float
    gps_lon: float
    model_hashes: Mapping[str, str]
    config_sha256: str
    software_version: str
    evidence: tuple[EvidenceRef, ...]
    processed_at: datetime

    def __post_init__(self) -> None:
        if self.processed_at.tzinfo is None:
            raise ValueError("processed_at must be timezone-aware")


def _core_fields(
    passage: Passage, decision: Decision, ctx: MessageContext, published_at: datetime | None
) -> dict[str, Any]:
    plate = passage.plate
    return {
        "message_id": passage_message_id(passage.camera_id, passage.track_id, passage.first_seen),
        "camera_id": passage.camera_id,
        "gateway_id": ctx.gateway_id,
        "track_id": passage.track_id,
        "captured_at_utc": passage.event_time.astimezone(UTC),
        "captured_at_local": passage.event_time.astimezone(LOCAL_TZ),
        "first_seen": passage.first_seen.astimezone(UTC),
        "last_seen": passage.last_seen.astimezone(UTC),
        "direction": passage.direction,
        "vehicle_class": passage.vehicle_class,
        "gps": GpsV1(lat=ctx.gps_lat, lon=ctx.gps_lon),
        "plate": PlateV1(
            status=plate.status,
            text=plate.text if plate.status is ReadStatus.READ else None,
            lines=list(plate.lines),
            layout=plate.layout,
            colour=plate.colour,
            confidence=plate.confidence,
            colour_confidence=plate.colour_confidence,
            candidates=[
                OcrCandidateV1(text=c.text, confidence=c.confidence, source=c.source) for c in plate.candidates
            ],
        ),
        "decision": DecisionV1(
            outcome=decision.outcome,
            zone_id=decision.zone_id,
            policy_id=decision.policy_id,
            action=decision.action,
            legal_reference=decision.legal_reference,
            reasons=list(decision.reasons),
            zone_phase=decision.zone_phase,
            permit_id=decision.permit_id,
        ),
        "evidence": [EvidenceRefV1(kind=e.kind, sha256=e.sha256, path=e.path, bytes=e.bytes) for e in ctx.evidence],
        "models": dict(sorted(ctx.model_hashes.items())),
        "config_sha256": ctx.config_sha256,
        "software_version": ctx.software_version,
        "processed_at_utc": ctx.processed_at.astimezone(UTC),
        "published_at": (published_at or datetime.now(UTC)).astimezone(UTC),
    }


def build_plate_read_message(
    passage: Passage, decision: Decision, ctx: MessageContext, *, published_at: datetime | None = None
) -> PlateReadMessageV1:
    return PlateReadMessageV1(**_core_fields(passage, decision, ctx, published_at))


def build_violation_message(
    passage: Passage, decision: Decision, ctx: MessageContext, *, published_at: datetime | None = None
) -> ViolationMessageV1:
    """Raises ValueError when the decision is not a violation (a programming error upstream)."""
    if decision.outcome is not Outcome.VIOLATION or decision.policy_id is None or decision.action is None:
        raise ValueError(f"not a violation decision: outcome={decision.outcome.value}")
    record = decision.registry_record
    registry = None
    if record is not None:
        registry = RegistryFactsV1(
            vehicle_class=record.vehicle_class,
            fuel=record.fuel,
            emission_level=record.emission_level,
            commercial=record.commercial,
            permits=list(record.permits),
            exemptions=list(record.exemptions),
            valid_from=record.valid_from,
            valid_to=record.valid_to,
        )
    return ViolationMessageV1(
        **_core_fields(passage, decision, ctx, published_at),
        violation_id=violation_id(
            passage.camera_id,
            passage.track_id,
            passage.first_seen,
            decision.policy_id,
            decision.liability_window,
            liability=decision.liability,
            plate=passage.plate.text or None,
        ),
        policy_id=decision.policy_id,
        liability=decision.liability,
        liability_window=decision.liability_window,
        action=decision.action,
        legal_reference=decision.legal_reference,
        registry=registry,
    )


NON_DETERMINISTIC_FIELDS = frozenset({"published_at"})


def deterministic_dump(message: BaseModel) -> dict[str, Any]:
    """JSON-mode dict without the non-deterministic fields: equal for equal inputs (replay comparisons)."""
    return message.model_dump(mode="json", exclude=set(NON_DETERMINISTIC_FIELDS))


def model_for_topic(topic: str) -> type[PlateReadMessageV1] | type[ViolationMessageV1] | None:
    """The schema model of a topic, or None for topics whose schema is not owned here (camera health)."""
    if topic in VIOLATION_TOPICS:
        return ViolationMessageV1
    if topic in PLATE_READ_TOPICS:
        return PlateReadMessageV1
    return None


def message_key(topic: str, message: BaseModel) -> bytes:
    """The Kafka key this module's docstring promises for `topic`."""
    if topic in VIOLATION_TOPICS and isinstance(message, ViolationMessageV1):
        return str(message.violation_id).encode()
    camera_id = getattr(message, "camera_id", None)
    if isinstance(camera_id, str):
        return camera_id.encode()
    raise ValueError(f"no key rule for {type(message).__name__} on topic {topic}")


def dedup_id(message: BaseModel) -> str:
    """The id consumers and the outbox de-duplicate on: violation_id for violations, else message_id."""
    for name in ("violation_id", "message_id"):
        value = getattr(message, name, None)
        if value is not None:
            return str(value)
    raise ValueError(f"{type(message).__name__} has no violation_id/message_id")

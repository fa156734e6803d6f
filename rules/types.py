"""Domain types of the LEZ shared by every stage.

`rules` depends on nothing else of ours, so these are the vocabulary the detectors, OCR, sinks and pipeline
speak between them. Small frozen dataclasses with units in their names, validated on construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class VehicleClass(StrEnum):
    CAR = "car"
    MOTORCYCLE = "motorcycle"
    BUS = "bus"
    TRUCK = "truck"
    UNKNOWN = "unknown"


class PlateColour(StrEnum):
    """Plate background colour (DOMAIN §3). `green` is ready for Hanoi's proposed clean-vehicle plate."""

    WHITE = "white"
    YELLOW = "yellow"
    BLUE = "blue"
    RED = "red"
    GREEN = "green"
    UNCERTAIN = "uncertain"


class PlateLayout(StrEnum):
    ONE_LINE = "one_line"
    TWO_LINE = "two_line"


class ReadStatus(StrEnum):
    """A read is either a plate text valid by the grammar, or explicitly unreadable (counted, sent to review)."""

    READ = "read"
    UNREADABLE = "unreadable"


class Direction(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    UNKNOWN = "unknown"


class Fuel(StrEnum):
    PETROL = "petrol"
    DIESEL = "diesel"
    HYBRID = "hybrid"
    ELECTRIC = "electric"
    HYDROGEN = "hydrogen"
    CNG = "cng"
    LPG = "lpg"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """What the rule engine decided for one passage."""

    COMPLIANT = "compliant"
    VIOLATION = "violation"
    EXEMPT = "exempt"
    NEEDS_REVIEW = "needs_review"


class Action(StrEnum):
    INFORM = "inform"
    WARN = "warn"
    FINE = "fine"


@dataclass(frozen=True)
class OcrCandidate:
    """One engine hypothesis for a plate: normalised text and its confidence in [0, 1]."""

    text: str
    confidence: float
    source: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")


@dataclass(frozen=True)
class PlateRead:
    """The outcome of reading one plate (one crop, or the consensus of a track's best crops).

    `text` is the compact normalised plate (A–Z0–9, Đ folded to D) when `status` is READ, else "".
    `lines` keeps the printed lines in reading order (top line first) for display and evidence.
    """

    status: ReadStatus
    text: str
    lines: tuple[str, ...]
    layout: PlateLayout | None
    colour: PlateColour
    confidence: float
    colour_confidence: float = 0.0
    candidates: tuple[OcrCandidate, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status is ReadStatus.READ and not self.text:
            raise ValueError("a READ plate needs text")
        if self.status is ReadStatus.UNREADABLE and self.text:
            raise ValueError("an UNREADABLE plate carries no consensus text (keep guesses in candidates)")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")


@dataclass(frozen=True)
class Passage:
    """One vehicle passing one camera: the unit the rule engine decides on.

    `event_time` is the capture time of the passage's best frame (timezone-aware UTC), never processing time.
    """

    camera_id: str
    track_id: int
    event_time: datetime
    first_seen: datetime
    last_seen: datetime
    vehicle_class: VehicleClass
    plate: PlateRead
    direction: Direction = Direction.UNKNOWN
    best_frame_seq: int = 0
    frames_seen: int = 0
    permit_payloads: tuple[str, ...] = ()  # signed permits read from the vehicle (QR), checked by the engine
    extras: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("event_time", "first_seen", "last_seen"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.first_seen > self.last_seen:
            raise ValueError("first_seen after last_seen")
        if self.track_id < 0:
            raise ValueError("track_id must be >= 0")


@dataclass(frozen=True)
class RegistryRecord:
    """What registration/inspection data says about a plate during [valid_from, valid_to) (plates are re-issued)."""

    plate: str
    vehicle_class: VehicleClass
    fuel: Fuel
    emission_level: int | None
    commercial: bool
    valid_from: datetime
    valid_to: datetime | None = None
    permits: tuple[str, ...] = ()
    exemptions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.valid_from.tzinfo is None or (self.valid_to is not None and self.valid_to.tzinfo is None):
            raise ValueError("registry validity bounds must be timezone-aware")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if self.emission_level is not None and not 1 <= self.emission_level <= 6:
            raise ValueError(f"emission_level must be 1..6, got {self.emission_level}")


@dataclass(frozen=True)
class Decision:
    """The rule engine's verdict on one passage, with everything it used (for evidence and audit)."""

    outcome: Outcome
    zone_id: str | None
    policy_id: str | None = None
    action: Action | None = None
    legal_reference: str = ""
    reasons: tuple[str, ...] = ()
    registry_record: RegistryRecord | None = None
    liability_window: str = ""
    liability: str = "per_entry"  # the policy's liability: "per_entry" or "per_day" (one per vehicle per day)
    zone_phase: str | None = None  # the zone's legal phase in force at event time ("pilot", ...)
    permit_id: str | None = None  # the signed permit that made the passage exempt

    def __post_init__(self) -> None:
        if self.outcome is Outcome.VIOLATION and (self.policy_id is None or self.action is None):
            raise ValueError("a violation names its policy and action")
        if self.liability not in ("per_entry", "per_day"):
            raise ValueError(f"liability must be per_entry or per_day, got {self.liability!r}")

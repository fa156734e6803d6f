"""Deterministic ids of the wire messages (uuid5, fixed namespace): same footage → same ids, on every run.

See docs/data-centre.md for what each id covers and how consumers de-duplicate on it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

# Fixed forever: changing it changes every id ever issued.
LEZ_NAMESPACE = uuid.UUID("6f1d3c2a-8b4e-5a7f-9c21-4e0b7d5a3f10")


def canonical_utc(value: datetime) -> str:
    """The one textual form of an instant used inside ids: UTC, microseconds, '+00:00'."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def passage_message_id(camera_id: str, track_id: int, first_seen: datetime) -> uuid.UUID:
    """Deterministic id of one passage (same footage → same id, replays and restarts included)."""
    return uuid.uuid5(LEZ_NAMESPACE, f"{camera_id}|{track_id}|{canonical_utc(first_seen)}")


def violation_id(
    camera_id: str,
    track_id: int,
    first_seen: datetime,
    policy_id: str,
    liability_window: str,
    *,
    liability: str = "per_entry",
    plate: str | None = None,
) -> uuid.UUID:
    """The id the data centre de-duplicates on.

    per_entry: uuid5(NAMESPACE, "camera|track|first_seen|policy|window") — one liability per passage.
    per_day:   uuid5(NAMESPACE, "per_day|plate|policy|local date") — one liability per vehicle, policy and day,
               whichever camera, box or replay saw it (the camera and track of the first report travel in the
               message, not in the id)."""
    if liability == "per_day":
        if not plate:
            raise ValueError("a per_day liability is keyed by the plate: plate text required")
        return uuid.uuid5(LEZ_NAMESPACE, f"per_day|{plate}|{policy_id}|{liability_window}")
    if liability != "per_entry":
        raise ValueError(f"unknown liability {liability!r}")
    name = f"{camera_id}|{track_id}|{canonical_utc(first_seen)}|{policy_id}|{liability_window}"
    return uuid.uuid5(LEZ_NAMESPACE, name)

"""Passage → decision → evidence → messages → sinks. Runs on the reader thread; sinks never block on Kafka.

Every passage goes to the plate-reads topic (also traffic statistics); a violation also goes to the violations
topic; a passage the engine cannot decide (unreadable or unknown plate) goes to the review topic with its evidence.
A per-day liability already charged to the same vehicle and policy that day is not published again (the ledger;
counted as `violations_deduplicated`); its id would be the same anyway, so consumers de-duplicate it too.
No plate text is logged at INFO: the log says camera, track and outcome only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from detectors.base import crop
from pipeline.metrics import Counters
from pipeline.passages import PassageResult
from rules.liability import LiabilityLedger
from rules.types import Decision, Outcome, Passage, ReadStatus
from sinks.base import Sink
from sinks.evidence import EvidenceRef, EvidenceStore
from sinks.schema import (
    MessageContext,
    build_plate_read_message,
    build_violation_message,
    message_key,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topics:
    violations: str
    plate_reads: str
    review: str | None


@dataclass(frozen=True)
class SiteFacts:
    """What is stamped on every message of a box: per-camera gateway and GPS, model and config hashes."""

    gateways: Mapping[str, tuple[str, float, float]]  # camera id → (gateway id, lat, lon)
    model_hashes: Mapping[str, str]
    config_sha256: str
    software_version: str


class Emitter:
    def __init__(self, decide: Callable[[Passage], Decision], sink: Sink, evidence: EvidenceStore | None,
                 topics: Topics, site: SiteFacts, counters: Counters,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 ledger: LiabilityLedger | None = None) -> None:
        self.decide, self.sink, self.evidence = decide, sink, evidence
        self.topics, self.site, self.counters, self.clock = topics, site, counters, clock
        self.ledger = ledger if ledger is not None else LiabilityLedger()

    def __call__(self, result: PassageResult) -> None:
        passage = result.passage
        decision = self.decide(passage)
        refs = self._store_evidence(result)
        gateway_id, lat, lon = self.site.gateways.get(passage.camera_id, (passage.camera_id, 0.0, 0.0))
        ctx = MessageContext(gateway_id=gateway_id, gps_lat=lat, gps_lon=lon, model_hashes=self.site.model_hashes,
                             config_sha256=self.site.config_sha256, software_version=self.site.software_version,
                             evidence=refs, processed_at=self.clock())
        cam = passage.camera_id
        read_msg = build_plate_read_message(passage, decision, ctx)
        self.sink.publish(self.topics.plate_reads, message_key(self.topics.plate_reads, read_msg), read_msg)
        self.counters.inc("passages", camera=cam, outcome=decision.outcome.value)
        if passage.plate.status is ReadStatus.UNREADABLE:
            self.counters.inc("unreadable", camera=cam)
        else:
            self.counters.inc("reads", camera=cam)
        if decision.outcome is Outcome.VIOLATION and not self.ledger.first_charge(passage, decision):
            self.counters.inc("violations_deduplicated", camera=cam, rule=decision.policy_id or "")
        elif decision.outcome is Outcome.VIOLATION:
            violation = build_violation_message(passage, decision, ctx)
            self.sink.publish(self.topics.violations, message_key(self.topics.violations, violation), violation)
            self.counters.inc("violations", camera=cam, rule=decision.policy_id or "")
        elif decision.outcome is Outcome.NEEDS_REVIEW and self.topics.review:
            self.sink.publish(self.topics.review, message_key(self.topics.review, read_msg), read_msg)
        log.info("passage camera=%s track=%d direction=%s read=%s outcome=%s", cam, passage.track_id,
                 passage.direction.value, passage.plate.status.value, decision.outcome.value)

    def _store_evidence(self, result: PassageResult) -> tuple[EvidenceRef, ...]:
        shot = result.best_shot
        if self.evidence is None:
            return ()
        if shot is None:
            # No plate was ever found: the frame and crop of the vehicle are what a reviewer needs to see.
            seen = result.vehicle_shot
            if seen is None:
                return ()
            vehicle = crop(seen.frame, seen.vehicle_box)
            refs = [self.evidence.put_jpeg(seen.frame, "frame")]
            return tuple(refs + ([self.evidence.put_jpeg(vehicle, "vehicle_crop")] if vehicle.size else []))
        refs = [self.evidence.put_jpeg(shot.frame, "frame"), self.evidence.put_jpeg(shot.crop, "plate_crop")]
        if shot.vehicle_box is not None:
            vehicle = crop(shot.frame, shot.vehicle_box)
            if vehicle.size:
                refs.append(self.evidence.put_jpeg(vehicle, "vehicle_crop"))
        return tuple(refs)

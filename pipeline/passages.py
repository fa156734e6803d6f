"""A finished track becomes a `Passage`: OCR on its best crops only (gated), consensus, vehicle class, direction.

OCR runs here, once per vehicle passage on at most `best_crops` crops — never on every frame (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ocr.plate_reader import PlateReader, layout_from_shape
from pipeline.consensus import vote
from pipeline.tracking import PlateShot, Track, VehicleShot
from rules import plate_grammar
from rules.types import Direction, Passage, PlateColour, PlateLayout, PlateRead, ReadStatus, VehicleClass

DirectionFn = Callable[[str, Sequence[tuple[float, float]]], Direction]  # (camera id, track centres)


@dataclass(frozen=True)
class PassageResult:
    passage: Passage
    best_shot: PlateShot | None  # evidence: its frame, plate crop and vehicle box
    ocr_reads: int
    vehicle_shot: VehicleShot | None = None  # evidence when no plate crop exists (plate never detected)


def _no_plate_read() -> PlateRead:
    return PlateRead(ReadStatus.UNREADABLE, "", (), None, PlateColour.UNCERTAIN, 0.0, 0.0, (),
                     "no plate detected on this vehicle")


def vehicle_class_of(track: Track, plate: PlateRead) -> VehicleClass:
    """Detector vote first; for a bare plate, its grammar family and then its layout's shape decide."""
    detected = track.vehicle_class()
    if detected is not None:
        return detected
    if plate.status is ReadStatus.READ:
        parsed = plate_grammar.parse(plate.text, plate.layout)
        hint = parsed.vehicle_hint if parsed is not None else None
        if hint is not None:
            return hint
    shots = track.best_shots()
    if shots:
        w, h = shots[0].plate_box.width_px, shots[0].plate_box.height_px
        # Motorbike plates are nearly square (1.36); car plates are 2.0 or 4.7 wide.
        if layout_from_shape(int(w), int(h)) is PlateLayout.TWO_LINE and w < 1.7 * h:
            return VehicleClass.MOTORCYCLE
        return VehicleClass.CAR
    return VehicleClass.UNKNOWN


class PassageBuilder:
    def __init__(self, reader: PlateReader, min_confidence: float, direction_of: DirectionFn) -> None:
        self.reader = reader
        self.min_confidence = min_confidence
        self.direction_of = direction_of

    def build(self, track: Track) -> PassageResult:
        shots = track.best_shots()
        reads = [self.reader.read(shot.crop) for shot in shots]
        plate = vote(reads, self.min_confidence) if reads else _no_plate_read()
        best = shots[0] if shots else None
        event_time = best.event_time if best is not None else track.first_seen
        passage = Passage(
            camera_id=track.camera_id,
            track_id=track.track_id,
            event_time=event_time,
            first_seen=track.first_seen,
            last_seen=track.last_seen,
            vehicle_class=vehicle_class_of(track, plate),
            plate=plate,
            direction=self.direction_of(track.camera_id, list(track.centres)),
            best_frame_seq=best.seq if best is not None else 0,
            frames_seen=track.frames_seen,
        )
        return PassageResult(passage, best, len(reads), track.vehicle_shot)

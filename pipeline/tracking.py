"""Per-camera tracking of vehicle passages, keeping each track's best plate crops for OCR.

A *subject* is what one frame shows of one vehicle: its vehicle box and/or its plate box. Plates are detected on
the whole frame and attached to the vehicle box that contains them; a plate with no vehicle box is a subject of
its own (the COCO model misses close-up motorbikes — DESIGN §4). Tracks match subjects greedily by the better
of vehicle-box IoU and plate-box IoU after a constant-velocity prediction, so a track that began as a bare plate
continues once its vehicle is detected. Age is measured in event time, never in frame counts (cameras deliver
fewer fps than they declare). Finished tracks are handed out and forgotten: per-track state is bounded.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, VehicleDetection, crop
from rules.types import VehicleClass

CENTRE_HISTORY = 128


@dataclass(frozen=True)
class Subject:
    box: BoxXYXY  # the vehicle box, or the plate box when no vehicle contains the plate
    vehicle_class: VehicleClass | None
    vehicle_box: BoxXYXY | None
    plate: PlateDetection | None


@dataclass(frozen=True)
class PlateShot:
    """A plate crop from one frame, with what made it a good one to read."""

    quality: float
    seq: int
    event_time: datetime
    crop: ImageBGR
    plate_box: BoxXYXY
    vehicle_box: BoxXYXY | None
    frame: ImageBGR  # the whole frame, for evidence; only `best_crops` shots are kept per track


@dataclass(frozen=True)
class VehicleShot:
    """The frame where a track's vehicle box was largest: evidence for a passage whose plate was never found."""

    area_px: float
    seq: int
    event_time: datetime
    vehicle_box: BoxXYXY
    frame: ImageBGR


@dataclass
class Track:
    track_id: int
    camera_id: str
    first_seen: datetime
    last_seen: datetime
    box: BoxXYXY
    plate_box: BoxXYXY | None
    box_is_vehicle: bool = False
    velocity: tuple[float, float] = (0.0, 0.0)  # px per second of event time, of the box centre
    plate_velocity: tuple[float, float] = (0.0, 0.0)  # px per second, of the plate box centre
    plate_seen: datetime | None = None
    frames_seen: int = 0
    centres: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=CENTRE_HISTORY))
    classes: Counter[VehicleClass] = field(default_factory=Counter)
    shots: list[tuple[float, int, PlateShot]] = field(default_factory=list)  # min-heap of the best K
    vehicle_shot: VehicleShot | None = None

    def predicted(self, at: datetime) -> BoxXYXY:
        return _shift(self.box, self.velocity, (at - self.last_seen).total_seconds())

    def predicted_plate(self, at: datetime) -> BoxXYXY | None:
        if self.plate_box is None or self.plate_seen is None:
            return None
        return _shift(self.plate_box, self.plate_velocity, (at - self.plate_seen).total_seconds())

    def best_shots(self) -> list[PlateShot]:
        return [shot for _, _, shot in sorted(self.shots, key=lambda s: (-s[0], s[1]))]

    def vehicle_class(self) -> VehicleClass | None:
        return self.classes.most_common(1)[0][0] if self.classes else None


def _shift(box: BoxXYXY, velocity: tuple[float, float], dt_s: float) -> BoxXYXY:
    dx, dy = velocity[0] * dt_s, velocity[1] * dt_s
    return BoxXYXY(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy)


def _velocity(old: BoxXYXY, new: BoxXYXY, dt_s: float) -> tuple[float, float]:
    if dt_s <= 0:
        return (0.0, 0.0)
    (ox, oy), (nx, ny) = old.centre, new.centre
    return ((nx - ox) / dt_s, (ny - oy) / dt_s)


def _plate_proximity(predicted: BoxXYXY, plate: BoxXYXY) -> float:
    """A plate that moved further than its own size between frames (fast vehicles, low fps) no longer overlaps
    its prediction; a centre within one plate width still continues the track, scored below a real overlap."""
    (px, py), (qx, qy) = predicted.centre, plate.centre
    distance = ((px - qx) ** 2 + (py - qy) ** 2) ** 0.5
    scale = max(predicted.width_px, plate.width_px)
    similar = min(predicted.width_px, plate.width_px) / max(1.0, scale) >= 0.6
    return max(0.0, 0.5 * (1.0 - distance / scale)) if similar and scale > 0 else 0.0


YOUNG_TRACK_REACH_WIDTHS_PER_S = 12.0


def _young_plate_proximity(last: BoxXYXY, plate: BoxXYXY, dt_s: float, floor: float) -> float:
    """A track seen once has no velocity yet. When detection runs on a subset of frames (max_detect_fps), its plate
    can move further than its own width before the next look — a receding vehicle near the camera moves ~1.8
    plate widths in 0.16 s — so the one-width proximity above never links the first two sightings and every
    detection starts a new track (a duplicate passage). Gate instead: similar size, the same column (at most half
    a width sideways: vehicles move along their lane, and neighbouring lanes are several plate widths apart), and
    along the lane up to `YOUNG_TRACK_REACH_WIDTHS_PER_S x dt` widths; scored from `floor` (a match) up to 0.5,
    always below a real overlap."""
    (px, py), (qx, qy) = last.centre, plate.centre
    scale = max(last.width_px, plate.width_px)
    if scale <= 0 or min(last.width_px, plate.width_px) / scale < 0.6 or abs(px - qx) > 0.5 * scale:
        return 0.0
    reach = max(1.0, YOUNG_TRACK_REACH_WIDTHS_PER_S * dt_s) * scale
    along = abs(py - qy)
    return floor + (0.5 - floor) * (1.0 - along / reach) if along <= reach else 0.0


def associate(vehicles: Sequence[VehicleDetection], plates: Sequence[PlateDetection],
              min_containment: float = 0.7) -> list[Subject]:
    """Attach each plate to the smallest vehicle box that contains it; one plate per vehicle (the surest)."""
    by_vehicle: dict[int, PlateDetection] = {}
    orphans: list[PlateDetection] = []
    for plate in sorted(plates, key=lambda p: -p.score):
        hosts = [(v.box.area_px, i) for i, v in enumerate(vehicles)
                 if plate.box.containment_in(v.box) >= min_containment and i not in by_vehicle]
        if hosts:
            by_vehicle[min(hosts)[1]] = plate
        else:
            orphans.append(plate)
    subjects = [Subject(v.box, v.vehicle_class, v.box, by_vehicle.get(i)) for i, v in enumerate(vehicles)]
    subjects += [Subject(p.box, None, None, p) for p in orphans]
    return subjects


def sharpness(image: ImageBGR) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def shot_quality(plate: PlateDetection, plate_crop: ImageBGR) -> float:
    """Bigger, sharper, surer plates read better; saturates so one huge blurry crop does not win."""
    width = min(plate.box.width_px, 240.0) / 240.0
    sharp = min(sharpness(plate_crop), 400.0) / 400.0
    return plate.score * (0.5 * width + 0.5 * sharp)


class Tracker:
    def __init__(self, camera_id: str, match_iou: float, max_age_s: float, best_crops: int,
                 min_plate_width_px: int, id_start: int = 0) -> None:
        self.camera_id = camera_id
        self.match_iou, self.max_age_s, self.best_crops = match_iou, max_age_s, best_crops
        self.min_plate_width_px = min_plate_width_px
        self.next_track_id = id_start  # public: a replay checkpoint resumes numbering from here
        self._tie = itertools.count()
        self.active: list[Track] = []

    def update(self, seq: int, event_time: datetime, image: ImageBGR, subjects: Sequence[Subject]) -> list[Track]:
        """Feed one frame's subjects; returns the tracks that have just finished (unseen for max_age_s)."""
        pairs = self._match(subjects, event_time)
        matched_tracks = {id(t) for t, _ in pairs}
        matched_subjects = {id(s) for _, s in pairs}
        for track, subject in pairs:
            self._extend(track, seq, event_time, image, subject)
        for subject in subjects:
            if id(subject) not in matched_subjects:
                track = Track(self.next_track_id, self.camera_id, event_time, event_time, subject.box, None)
                self.next_track_id += 1
                self._extend(track, seq, event_time, image, subject)
                self.active.append(track)
                matched_tracks.add(id(track))
        finished = [t for t in self.active if (event_time - t.last_seen).total_seconds() > self.max_age_s]
        self.active = [t for t in self.active if t not in finished]
        return finished

    def flush(self) -> list[Track]:
        finished, self.active = self.active, []
        return finished

    def _match(self, subjects: Sequence[Subject], at: datetime) -> list[tuple[Track, Subject]]:
        scores = []
        for ti, track in enumerate(self.active):
            predicted = track.predicted(at)
            predicted_plate = track.predicted_plate(at)
            for si, subject in enumerate(subjects):
                score = predicted.iou(subject.box)
                if predicted_plate is not None and subject.plate is not None:
                    plate = subject.plate.box
                    score = max(score, predicted_plate.iou(plate), _plate_proximity(predicted_plate, plate))
                    if track.frames_seen == 1 and track.plate_seen is not None:
                        dt_s = (at - track.plate_seen).total_seconds()
                        score = max(score, _young_plate_proximity(predicted_plate, plate, dt_s, self.match_iou))
                if score >= self.match_iou:
                    scores.append((score, ti, si))
        scores.sort(reverse=True)
        used_t: set[int] = set()
        used_s: set[int] = set()
        pairs = []
        for _, ti, si in scores:
            if ti not in used_t and si not in used_s:
                used_t.add(ti)
                used_s.add(si)
                pairs.append((self.active[ti], subjects[si]))
        return pairs

    def _extend(self, track: Track, seq: int, event_time: datetime, image: ImageBGR, subject: Subject) -> None:
        is_vehicle = subject.vehicle_box is not None
        # A vehicle box and a bare plate box have different centres: estimate motion only between like boxes.
        if track.frames_seen and is_vehicle == track.box_is_vehicle:
            track.velocity = _velocity(track.box, subject.box, (event_time - track.last_seen).total_seconds())
        elif track.frames_seen:
            track.velocity = track.plate_velocity
        track.box, track.box_is_vehicle = subject.box, is_vehicle
        track.last_seen = event_time
        track.frames_seen += 1
        track.centres.append(subject.box.centre)
        if subject.vehicle_class is not None:
            track.classes[subject.vehicle_class] += 1
        vehicle = subject.vehicle_box
        if vehicle is not None and (track.vehicle_shot is None or vehicle.area_px > track.vehicle_shot.area_px):
            track.vehicle_shot = VehicleShot(vehicle.area_px, seq, event_time, vehicle, image)
        if subject.plate is not None:
            if track.plate_box is not None and track.plate_seen is not None:
                dt = (event_time - track.plate_seen).total_seconds()
                track.plate_velocity = _velocity(track.plate_box, subject.plate.box, dt)
            track.plate_box, track.plate_seen = subject.plate.box, event_time
            self._keep_shot(track, seq, event_time, image, subject)

    def _keep_shot(self, track: Track, seq: int, event_time: datetime, image: ImageBGR, subject: Subject) -> None:
        plate = subject.plate
        assert plate is not None
        if plate.box.width_px < self.min_plate_width_px:
            return
        h, w = image.shape[:2]
        # A loose crop: OCR and the colour classifier both want a little of the plate's surroundings.
        plate_crop = crop(image, plate.box.expanded(0.06, w, h))
        if plate_crop.size == 0:
            return
        quality = shot_quality(plate, plate_crop)
        if len(track.shots) >= self.best_crops and quality <= track.shots[0][0]:
            return
        shot = PlateShot(quality, seq, event_time, np.ascontiguousarray(plate_crop).copy(), plate.box,
                         subject.vehicle_box, image)
        entry = (quality, next(self._tie), shot)
        if len(track.shots) >= self.best_crops:
            heapq.heapreplace(track.shots, entry)
        else:
            heapq.heappush(track.shots, entry)

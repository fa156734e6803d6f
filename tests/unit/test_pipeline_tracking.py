"""Tracking: plate↔vehicle association, stable ids, event-time ageing, bounded per-track and tracker state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np

from detectors.base import BoxXYXY, PlateDetection, VehicleDetection
from pipeline.tracking import CENTRE_HISTORY, Subject, Tracker, associate
from rules.types import VehicleClass

T0 = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)
IMAGE = np.zeros((240, 320, 3), np.uint8)


def _vehicle(x1: float, y1: float, x2: float, y2: float) -> VehicleDetection:
    return VehicleDetection(BoxXYXY(x1, y1, x2, y2), 0.9, VehicleClass.CAR)


def _plate(x1: float, y1: float, x2: float, y2: float, score: float = 0.8) -> PlateDetection:
    return PlateDetection(BoxXYXY(x1, y1, x2, y2), score)


def _tracker(max_age_s: float = 1.0, best_crops: int = 3) -> Tracker:
    return Tracker("cam", match_iou=0.15, max_age_s=max_age_s, best_crops=best_crops, min_plate_width_px=8)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_associate_attaches_plate_to_smallest_containing_vehicle_and_keeps_orphans() -> None:
    big, small = _vehicle(0, 0, 300, 220), _vehicle(100, 100, 200, 200)
    inside_small = _plate(130, 170, 170, 185)
    inside_big = _plate(250, 5, 290, 20)  # only inside the big box
    far = _plate(305, 225, 318, 235)  # outside every vehicle
    subjects = associate([big, small], [inside_small, inside_big, far])
    by_vehicle = {s.vehicle_box: s for s in subjects if s.vehicle_box is not None}
    assert by_vehicle[small.box].plate == inside_small
    assert by_vehicle[big.box].plate == inside_big
    bare = [s for s in subjects if s.vehicle_box is None]
    assert len(bare) == 1
    assert bare[0].plate == far and bare[0].box == far.box and bare[0].vehicle_class is None


def test_associate_partly_contained_plate_becomes_its_own_subject() -> None:
    vehicle = _vehicle(0, 0, 100, 100)
    straddling = _plate(80, 50, 140, 70)  # a third inside
    subjects = associate([vehicle], [straddling])
    assert subjects[0].plate is None
    assert subjects[1].vehicle_box is None and subjects[1].plate == straddling


def test_associate_one_plate_per_vehicle_the_surest_wins() -> None:
    vehicle = _vehicle(0, 0, 200, 200)
    weak, strong = _plate(10, 10, 60, 30, score=0.3), _plate(100, 150, 150, 170, score=0.9)
    subjects = associate([vehicle], [weak, strong])
    assert subjects[0].plate == strong
    assert [s.plate for s in subjects[1:]] == [weak]


def test_moving_box_keeps_its_id_across_frames() -> None:
    tracker = _tracker()
    ids: set[int] = set()
    for i in range(20):
        x = 10 + 8 * i
        subjects = associate([_vehicle(x, 50, x + 80, 130)], [])
        finished = tracker.update(i, _at(i * 0.1), IMAGE, subjects)
        assert finished == []
        ids.update(t.track_id for t in tracker.active)
    assert len(ids) == 1
    [track] = tracker.flush()
    assert track.frames_seen == 20
    assert track.last_seen == _at(1.9) and track.first_seen == T0


def test_bare_plate_track_continues_on_its_vehicle_box_without_new_id() -> None:
    tracker = _tracker()
    for i in range(3):  # only the plate is detected (close-up motorbike the COCO model misses)
        tracker.update(i, _at(i * 0.1), IMAGE, associate([], [_plate(120, 150, 170, 170)]))
    assert len(tracker.active) == 1 and not tracker.active[0].box_is_vehicle
    first_id = tracker.active[0].track_id
    for i in range(3, 6):  # now the vehicle is found too, around the same plate
        tracker.update(i, _at(i * 0.1), IMAGE, associate([_vehicle(90, 60, 200, 190)], [_plate(120, 150, 170, 170)]))
    assert [t.track_id for t in tracker.active] == [first_id]
    track = tracker.active[0]
    assert track.box_is_vehicle and track.box == BoxXYXY(90, 60, 200, 190)
    assert track.frames_seen == 6 and track.vehicle_class() is VehicleClass.CAR


def test_tracks_finish_after_max_age_of_event_time_not_frame_count() -> None:
    tracker = _tracker(max_age_s=1.0)
    tracker.update(0, _at(0.0), IMAGE, associate([_vehicle(10, 10, 90, 90)], []))
    # 200 empty frames squeezed into 0.9 s of event time: many frames, little time — the track stays.
    for i in range(1, 201):
        assert tracker.update(i, _at(0.9 * i / 200), IMAGE, []) == []
    assert len(tracker.active) == 1
    # One frame 1.1 s after the track was last seen finishes it, however few frames passed.
    finished = tracker.update(201, _at(1.1), IMAGE, [])
    assert [t.frames_seen for t in finished] == [1]
    assert tracker.active == []


def test_track_age_is_measured_from_last_seen_even_at_low_fps() -> None:
    tracker = _tracker(max_age_s=1.0)
    for i in range(5):  # a 2 fps camera: 0.5 s between frames must not end the track
        assert tracker.update(i, _at(i * 0.5), IMAGE, associate([_vehicle(10 + 4 * i, 10, 90 + 4 * i, 90)], [])) == []
    assert len(tracker.active) == 1


def test_keeps_at_most_best_crops_shots_and_the_best_ones() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    image[150:170, 120:170] = 220
    image[155:165, 130:135] = 0  # some texture so sharpness is non-zero
    tracker = _tracker(best_crops=3)
    scores = [0.31, 0.92, 0.45, 0.88, 0.2, 0.95, 0.5, 0.6, 0.3, 0.4]
    for i, score in enumerate(scores):
        plate = _plate(120, 150, 170, 170, score=score)
        tracker.update(i, _at(i * 0.1), image, associate([_vehicle(90, 60, 200, 190)], [plate]))
    [track] = tracker.active
    assert len(track.shots) == 3
    # Same crop every frame: quality is proportional to the detector score, so the top three scores win.
    assert sorted(shot.seq for shot in track.best_shots()) == [1, 3, 5]
    assert [s.seq for s in track.best_shots()] == [5, 1, 3]


def test_plates_narrower_than_minimum_are_never_kept_as_shots() -> None:
    tracker = Tracker("cam", 0.15, 1.0, 3, min_plate_width_px=40)
    tracker.update(0, T0, IMAGE, associate([_vehicle(0, 0, 200, 200)], [_plate(10, 10, 30, 20)]))
    assert tracker.active[0].shots == []


def test_finished_tracks_are_evicted_and_state_stays_bounded_over_10k_frames() -> None:
    rng = random.Random(7)
    tracker = _tracker(max_age_s=0.5)
    created = finished_total = max_active = 0
    ids_seen: set[int] = set()
    for i in range(10_000):
        subjects = []
        for _ in range(rng.randint(0, 3)):
            x, y = rng.uniform(0, 260), rng.uniform(0, 180)
            w, h = rng.uniform(10, 60), rng.uniform(10, 60)
            box = BoxXYXY(x, y, x + w, y + h)
            subjects.append(Subject(box, VehicleClass.CAR, box, None))
        finished = tracker.update(i, _at(i * 0.1), IMAGE, subjects)
        finished_total += len(finished)
        ids_seen.update(t.track_id for t in tracker.active)
        max_active = max(max_active, len(tracker.active))
        for track in tracker.active:
            assert len(track.centres) <= CENTRE_HISTORY
    created = len(ids_seen)
    # At most ~6 frames (0.5 s at 10 fps) × 3 boxes can be alive at once.
    assert max_active <= 3 * 7
    assert created > 1000  # random boxes make many tracks...
    assert finished_total + len(tracker.active) == created  # ...and every one of them is handed out once


def test_centre_history_of_a_long_track_is_bounded() -> None:
    tracker = _tracker(max_age_s=5.0)
    for i in range(1000):
        tracker.update(i, _at(i * 0.04), IMAGE, associate([_vehicle(100, 100, 180, 180)], []))
    [track] = tracker.active
    assert track.frames_seen == 1000
    assert len(track.centres) == CENTRE_HISTORY

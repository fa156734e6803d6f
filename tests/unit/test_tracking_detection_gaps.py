"""Detection on a subset of frames: a young track (no velocity yet) still links a plate that moved further than
its own width along the lane, and never grabs a plate in the neighbouring lane."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from detectors.base import BoxXYXY, PlateDetection
from pipeline.tracking import Subject, Tracker

T0 = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)
IMAGE = np.zeros((1080, 1920, 3), np.uint8)


def _bare_plate(x: float, y: float, width: float = 160.0) -> Subject:
    box = BoxXYXY(x, y, x + width, y + width * 0.74)
    return Subject(box, None, None, PlateDetection(box, 0.9))


def _tracker() -> Tracker:
    return Tracker("cam", match_iou=0.15, max_age_s=1.2, best_crops=3, min_plate_width_px=24)


def test_receding_plate_seen_every_fourth_frame_stays_one_track() -> None:
    tracker = _tracker()
    # 1.8 plate widths up between two looks 0.16 s apart (a motorbike leaving, near the camera), then slower.
    for step, y in enumerate((900.0, 612.0, 420.0, 290.0)):
        tracker.update(step * 4, T0 + timedelta(seconds=0.16 * step), IMAGE, [_bare_plate(1000.0, y)])
    assert len(tracker.active) == 1 and tracker.active[0].frames_seen == 4


def test_young_track_does_not_take_a_plate_in_the_next_lane() -> None:
    tracker = _tracker()
    tracker.update(0, T0, IMAGE, [_bare_plate(1000.0, 900.0)])
    tracker.update(4, T0 + timedelta(seconds=0.16), IMAGE, [_bare_plate(1400.0, 700.0)])  # 2.5 widths sideways
    assert len(tracker.active) == 2


def test_young_track_reach_grows_with_the_gap_only() -> None:
    tracker = _tracker()
    tracker.update(0, T0, IMAGE, [_bare_plate(1000.0, 900.0)])
    tracker.update(1, T0 + timedelta(seconds=0.04), IMAGE, [_bare_plate(1000.0, 612.0)])  # 1.8 widths in 40 ms
    assert len(tracker.active) == 2  # too far for one frame interval: a different plate

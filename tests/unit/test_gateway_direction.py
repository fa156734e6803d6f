"""Direction of travel from a track's centre points crossing the gateway's entry line (image y points down)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.gateway import crossing_direction, signed_distance_px
from rules.types import Direction

LINE = ((0.0, 360.0), (1280.0, 360.0))  # horizontal at mid height of a 1280x720 frame; "right" = below


def down(x: float = 640.0, y0: float = 200.0, y1: float = 520.0, steps: int = 9) -> list[tuple[float, float]]:
    return [(x, y0 + (y1 - y0) * i / (steps - 1)) for i in range(steps)]


def test_side_convention_right_is_below_a_left_to_right_line() -> None:
    assert signed_distance_px((640, 400), LINE, "right") == pytest.approx(40.0)
    assert signed_distance_px((640, 400), LINE, "left") == pytest.approx(-40.0)


def test_moving_down_enters_and_moving_up_exits() -> None:
    assert crossing_direction(down(), LINE, "right", 20) is Direction.ENTRY
    assert crossing_direction(down()[::-1], LINE, "right", 20) is Direction.EXIT
    assert crossing_direction(down(), LINE, "left", 20) is Direction.EXIT


def test_jitter_on_the_line_is_ignored() -> None:
    # Parked car whose box centre wobbles ±10 px around the line: never leaves the dead band.
    wobble = [(640.0, 360.0 + (10.0 if i % 2 else -10.0)) for i in range(30)]
    assert crossing_direction(wobble, LINE, "right", 20) is Direction.UNKNOWN
    # The same wobble with no dead band ends below the line: a spurious entry. The band is what debounces it.
    assert crossing_direction(wobble, LINE, "right", 0) is Direction.ENTRY


def test_net_crossing_with_jitter_back_and_forth() -> None:
    track = [(640.0, y) for y in (200, 300, 370, 350, 372, 355, 380, 420, 500)]
    assert crossing_direction(track, LINE, "right", 20) is Direction.ENTRY
    # In, back out past the band, and in again: still one net entry.
    back_and_forth = [(640.0, y) for y in (250, 400, 300, 450)]
    assert crossing_direction(back_and_forth, LINE, "right", 20) is Direction.ENTRY
    # Out, in, and back out where it came from: no net crossing.
    u_turn = [(640.0, y) for y in (250, 450, 250)]
    assert crossing_direction(u_turn, LINE, "right", 20) is Direction.UNKNOWN


def test_small_travel_past_the_line_does_not_count() -> None:
    short = [(640.0, y) for y in (300, 340, 370, 375)]  # ends 15 px inside, band is 20
    assert crossing_direction(short, LINE, "right", 20) is Direction.UNKNOWN
    assert crossing_direction(short, LINE, "right", 10) is Direction.ENTRY


def test_passing_beyond_the_end_of_the_segment_is_not_a_crossing() -> None:
    short_line = ((0.0, 360.0), (400.0, 360.0))
    assert crossing_direction(down(x=900), short_line, "right", 20) is Direction.UNKNOWN
    assert crossing_direction(down(x=200), short_line, "right", 20) is Direction.ENTRY


def test_diagonal_line_and_too_short_tracks() -> None:
    diagonal = ((0.0, 0.0), (1280.0, 720.0))  # facing down-right, "right" is the lower-left half
    assert crossing_direction([(800, 100), (400, 600)], diagonal, "right", 5) is Direction.ENTRY
    assert crossing_direction([(400, 600), (800, 100)], diagonal, "right", 5) is Direction.EXIT
    assert crossing_direction([(640, 500)], LINE, "right", 20) is Direction.UNKNOWN
    assert crossing_direction([], LINE, "right", 20) is Direction.UNKNOWN
    with pytest.raises(ValueError, match="min_travel_px"):
        crossing_direction(down(), LINE, "right", -1)


@given(st.lists(st.floats(min_value=-30, max_value=30), min_size=2, max_size=40),
       st.floats(min_value=0, max_value=1280))
def test_anything_inside_the_dead_band_is_unknown(offsets: list[float], x: float) -> None:
    track = [(x, 360.0 + dy) for dy in offsets]
    assert crossing_direction(track, LINE, "right", 31) is Direction.UNKNOWN


@given(st.floats(min_value=25, max_value=300), st.floats(min_value=25, max_value=300))
def test_reversing_a_crossing_track_reverses_its_direction(before: float, after: float) -> None:
    track = [(640.0, 360.0 - before), (640.0, 360.0 + after)]
    assert crossing_direction(track, LINE, "right", 20) is Direction.ENTRY
    assert crossing_direction(track[::-1], LINE, "right", 20) is Direction.EXIT

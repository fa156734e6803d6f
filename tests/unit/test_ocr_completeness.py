"""A read line that has lost a character: its printed separators disagree with it, or a solid patch covers one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr.completeness import covered_character, gap_between_characters, hidden_in_line, missing_character
from ocr.localise import locate, split_two_lines
from ocr.views import OCCLUSIONS, occluded
from sample_videos.plates import Layout, PlateSpec, render_plate


@pytest.mark.parametrize("line", ["30A-123.45", "123.45", "29-B1", "54-T1", "5417", "30A-1234", "30A123.45",
                                  "-123.45", "80-NG", "12-34", "30A", "29-AA", ""])
def test_whole_lines_say_nothing(line: str) -> None:
    assert missing_character(line) == ""


@pytest.mark.parametrize(("line", "says"), [
    ("123.4", "1 character(s) after the printed dot"),  # the last digit painted over or cut off
    ("30A-123.", "0 character(s) after the printed dot"),
    ("12.45", "2 character(s) before the printed dot"),  # a digit before the dot covered
    ("30A-12.45", "2 character(s) before the printed dot"),
    ("30A-1234.56", "4 character(s) before the printed dot"),
    ("29-B", "1 character after the hyphen"),  # a motorbike's series half hidden: `29B` is a car's
])
def test_a_line_that_lost_a_character_says_which(line: str, says: str) -> None:
    assert says in missing_character(line)


@pytest.mark.parametrize(("text", "positions"), [
    ("12345", (2, 4, 6, 8, 10)),  # evenly read
    ("123.45", (2, 4, 7, 8, 10, 12)),  # the dot's own step: not a gap
    ("30A-1234", (2, 4, 6, 9, 12, 14, 16, 18)),  # a wider step across the hyphen is the hyphen's
    ("12345", (2, 5, 7, 10, 12)),  # 1.5 pitches: the recogniser's steps are that coarse on clean plates
    ("12", (2, 9)),  # too few characters to know a pitch
    ("12345", ()),  # an engine that gives no positions
])
def test_characters_read_side_by_side_without_a_gap_say_nothing(text: str, positions: tuple[int, ...]) -> None:
    assert gap_between_characters(text, positions) == ""


def test_a_gap_two_pitches_wide_between_characters_is_a_hidden_one() -> None:
    # `123.45` with the `3` taped over in the plate's colour and the dot missed: `12` ... `45`.
    assert "a gap of 3.0 characters" in gap_between_characters("1245", (2, 4, 10, 12))
    assert hidden_in_line("1245", (2, 4, 10, 12)) != ""
    assert hidden_in_line("123.4", (2, 4, 6, 7, 9)).startswith("1 character(s) after the printed dot")


def _lines(image: np.ndarray) -> list[np.ndarray]:
    located = locate(image)
    return list(split_two_lines(located.image)) if located.two_line else [located.image]


@pytest.mark.parametrize(("compact", "layout"), [("30A12345", Layout.CAR_ONE_LINE), ("29AB12345", Layout.MOTORBIKE),
                                                 ("30K56789", Layout.CAR_TWO_LINE), ("88B88888", Layout.CAR_ONE_LINE)])
@pytest.mark.parametrize("px_per_mm", [0.5, 1.0])
def test_a_clean_plate_has_no_covered_character_and_a_blocked_one_has(compact: str, layout: Layout,
                                                                      px_per_mm: float) -> None:
    plate = render_plate(PlateSpec(compact, layout), px_per_mm=px_per_mm)
    assert covered_character(_lines(plate)) == ""
    h, w = plate.shape[:2]
    for place in range(4):  # the block over characters at four places along the line
        assert covered_character(_lines(occluded(plate, (0, 0, w, h), "block", place))) != ""


def test_the_occlusions_hide_what_they_say() -> None:
    plate = np.full((100, 400, 3), 230, np.uint8)
    painted = occluded(plate, (0, 0, 400, 100), "paint-right", 0)
    assert (painted[:, 321:] == 128).all() and (painted[:, :319] == 230).all()
    assert occluded(plate, (0, 0, 400, 100), "cut-right", 0).shape == (100, 320, 3)
    assert (occluded(plate, (0, 0, 400, 100), "block", 0) == 25).any()
    with pytest.raises(ValueError, match="unknown occlusion"):
        occluded(plate, (0, 0, 400, 100), "mud", 0)
    assert set(OCCLUSIONS) == {"paint-right", "block", "erase", "cut-right"}


def test_the_cli_offers_the_occlusions_the_views_make() -> None:
    from pipeline import cli

    assert tuple(cli._OCCLUSIONS) == OCCLUSIONS


@pytest.mark.parametrize("body_grey", [100, 140])
def test_a_plate_whose_lines_hold_more_car_body_than_plate_is_not_covered_when_its_colour_is_known(
        body_grey: int) -> None:
    # A tilted real plate cut loosely: its located lines held more grey car body than white plate, Otsu's
    # majority flipped, and the plate's white face became a "solid patch of ink" (4 of 87 real crops at ±8°).
    plate = render_plate(PlateSpec("51A19222", Layout.CAR_TWO_LINE), px_per_mm=1.0)
    h, w = plate.shape[:2]
    wide = cv2.copyMakeBorder(plate, int(0.15 * h), 0, int(0.6 * w), int(0.6 * w), cv2.BORDER_CONSTANT,
                              value=(body_grey,) * 3)
    lines = list(split_two_lines(wide))
    assert covered_character(lines, dark_ink=True) == ""  # a white plate: dark ink
    assert covered_character(lines) != ""  # the colour unknown: the majority decides, and here it is wrong
    h2 = wide.shape[0]
    blocked = occluded(wide, (0.6 * w, 0.15 * h, 0.6 * w + w, h2), "block", 2)
    assert covered_character(list(split_two_lines(blocked)), dark_ink=True) != ""

"""Plate localisation inside loose crops: skew, tight box, line split — on plates the repo renders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr.localise import estimate_skew_deg, locate, split_two_lines
from sample_videos.plates import Layout, PlateColour, PlateSpec, render_plate


def _tilted(image: np.ndarray, angle_deg: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _loose(plate: np.ndarray, margin: float = 0.25, value: tuple[int, int, int] = (50, 55, 60)) -> np.ndarray:
    h, w = plate.shape[:2]
    return cv2.copyMakeBorder(plate, int(h * margin), int(h * margin), int(w * margin), int(w * margin),
                              cv2.BORDER_CONSTANT, value=value)


@pytest.mark.parametrize("layout", [Layout.CAR_ONE_LINE, Layout.MOTORBIKE])
@pytest.mark.parametrize("angle", [-8.0, -4.0, 5.0, 9.0])
def test_skew_is_measured_back_within_a_degree_and_a_half(layout: Layout, angle: float) -> None:
    compact = "30A12345" if layout is Layout.CAR_ONE_LINE else "29AA12345"
    plate = _loose(render_plate(PlateSpec(compact, layout), px_per_mm=1.0), margin=0.2)
    grey = cv2.cvtColor(_tilted(plate, angle), cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (round(grey.shape[1] * 64 / grey.shape[0]), 64), interpolation=cv2.INTER_AREA)
    # Undoing a counter-clockwise tilt of `angle` is a rotation by -angle.
    assert estimate_skew_deg(small) == pytest.approx(-angle, abs=1.5)


def test_a_level_plate_is_left_alone() -> None:
    plate = _loose(render_plate(PlateSpec("51G67890", Layout.CAR_ONE_LINE), px_per_mm=1.0))
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    assert estimate_skew_deg(grey) == 0.0
    assert locate(plate).skew_deg == 0.0


@pytest.mark.parametrize(("layout", "colour", "two_line"), [
    (Layout.CAR_ONE_LINE, PlateColour.WHITE, False),
    (Layout.CAR_ONE_LINE, PlateColour.BLUE, False),
    (Layout.CAR_TWO_LINE, PlateColour.YELLOW, True),
    (Layout.MOTORBIKE, PlateColour.WHITE, True),
])
def test_loose_tilted_crop_is_cut_to_the_plate(layout: Layout, colour: PlateColour, two_line: bool) -> None:
    compact = "29AA12345" if layout is Layout.MOTORBIKE else "30K56789"
    plate = render_plate(PlateSpec(compact, layout, colour), px_per_mm=1.0)
    located = locate(_tilted(_loose(plate), 6.0))
    ph, pw = plate.shape[:2]
    h, w = located.image.shape[:2]
    assert located.tight
    assert located.two_line is two_line
    # The plate fills the result: within a few percent of its own size (the loose crop was 50% larger).
    assert 0.9 * pw <= w <= 1.2 * pw
    assert 0.9 * ph <= h <= 1.25 * ph


def test_lines_are_cut_between_the_two_lines() -> None:
    plate = render_plate(PlateSpec("29AA12345", Layout.MOTORBIKE), px_per_mm=2.0)
    top, bottom = split_two_lines(plate)
    h = plate.shape[0]
    assert 0.4 * h <= top.shape[0] <= 0.6 * h
    assert top.shape[0] + bottom.shape[0] == h


def test_a_crop_without_a_plate_blob_falls_back_to_the_whole_crop() -> None:
    dark = np.full((60, 200, 3), 40, dtype=np.uint8)
    dark[20:30, 90:110] = 230  # a small reflection, not a plate
    located = locate(dark)
    assert not located.tight
    assert located.image.shape[:2] == dark.shape[:2]


def test_text_lines_join_into_plates_and_a_sticker_stays_apart() -> None:
    """The text detector's lines of a hand-cut crop: a two-line plate's lines (stacked, one line apart) and the
    pieces of a one-line plate (side by side) make one region each, widened at the sides; a dealer's
    sticker (small print, far off) is no plate; a second plate's text, as high, is a region of its own, and the
    largest comes first."""
    from ocr.localise import TextRegion, plate_regions

    top, bottom = TextRegion(120, 100, 220, 140, 40), TextRegion(100, 150, 240, 190, 40)
    sticker = TextRegion(400, 350, 470, 362, 12)
    regions = plate_regions([sticker, top, bottom], 500, 400)
    assert regions == [pytest.approx((80, 100, 260, 190))]  # half a line's height at the sides, none above
    other = TextRegion(330, 300, 430, 330, 30)
    assert plate_regions([top, other, bottom], 500, 400)[1] == pytest.approx((315, 300, 445, 330))
    left, right = TextRegion(100, 100, 180, 130, 30), TextRegion(200, 102, 300, 131, 29)
    assert plate_regions([left, right], 400, 200) == [pytest.approx((85.5, 100, 314.5, 131))]
    assert plate_regions([], 400, 200) == []


def test_a_tilted_lines_height_is_its_own_not_its_bounding_boxs() -> None:
    from ocr.localise import TextRegion

    corners = cv2.boxPoints(((100.0, 50.0), (200.0, 30.0), 8.0))
    line = TextRegion.from_quad(corners)
    assert line.line_height == pytest.approx(30.0, abs=0.01)
    assert line.y2 - line.y1 > 50  # the upright box of the tilted line is much taller

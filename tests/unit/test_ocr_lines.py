"""Line ordering of text boxes and the two-line split: the faults practitioners report most (DOMAIN §5)."""

from __future__ import annotations

import numpy as np

from ocr.engines import TextBox
from ocr.plate_reader import group_lines, layout_from_shape, split_two_lines
from rules.types import PlateLayout


def box(text: str, x1: float, y1: float, x2: float, y2: float, conf: float = 0.9) -> TextBox:
    return TextBox(text, conf, x1, y1, x2, y2)


def test_two_lines_read_top_then_bottom_whatever_the_engine_order() -> None:
    lines = group_lines([box("123.45", 10, 50, 100, 90), box("29-AA", 20, 5, 90, 45)])
    assert [line.text for line in lines] == ["29-AA", "123.45"]


def test_tilted_stacked_lines_overlapping_vertically_stay_two_lines() -> None:
    # Measured on a real tilted motorbike plate: the boxes overlap vertically by 18 px yet are stacked.
    lines = group_lines([box("29-A1", 26, 30, 120, 61), box("456.78", 22, 43, 130, 93)])
    assert [line.text for line in lines] == ["29-A1", "456.78"]


def test_pieces_of_one_line_join_left_to_right() -> None:
    lines = group_lines([box("123.45", 120, 10, 240, 50, 0.8), box("30A-", 10, 12, 110, 52, 0.95)])
    assert [line.text for line in lines] == ["30A-123.45"]
    assert lines[0].confidence == 0.8  # a line is only as sure as its weakest piece


def test_layout_hint_from_shape() -> None:
    assert layout_from_shape(520, 110) is PlateLayout.ONE_LINE
    assert layout_from_shape(330, 165) is PlateLayout.TWO_LINE
    assert layout_from_shape(190, 140) is PlateLayout.TWO_LINE


def test_split_between_lines_cuts_at_the_blank_band() -> None:
    plate = np.full((100, 140, 3), 235, np.uint8)
    plate[10:42, 20:120] = 20   # top line ink
    plate[58:90, 10:130] = 20   # bottom line ink
    top, bottom = split_two_lines(plate)
    assert 42 <= top.shape[0] <= 58
    assert top.shape[0] + bottom.shape[0] == 100

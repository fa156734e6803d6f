"""Text boxes from a text detector → the lines of a plate, top to bottom; and a plate's layout from its shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocr.completeness import missing_character
from ocr.engines import TextBox
from ocr.localise import ONE_LINE_MIN_ASPECT
from rules import plate_grammar
from rules.types import PlateLayout


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()  # per character of `text`; empty: every character has `confidence`
    # Per character, the recogniser's most probable classes and their probabilities (empty when unknown).
    char_classes: tuple[tuple[tuple[str, float], ...], ...] = ()
    # Why a character of the line seems hidden (`ocr.completeness`: its printed separators, or a gap between its
    # characters where the recogniser's positions are known); "" when nothing says so.
    missing: str = ""


def _clean(text: str) -> str:
    return plate_grammar.normalise(text)


def _same_line(a: TextBox, b: TextBox) -> bool:
    """Boxes share a line when they overlap mostly vertically and hardly horizontally.

    On tilted two-line plates the lines' boxes overlap vertically too; what tells them apart is that stacked
    lines overlap *horizontally* while pieces of one line sit side by side.
    """
    v_overlap = min(a.y2, b.y2) - max(a.y1, b.y1)
    h_overlap = min(a.x2, b.x2) - max(a.x1, b.x1)
    narrower = max(1.0, min(a.x2 - a.x1, b.x2 - b.x1))
    lower = max(1.0, min(a.height_px, b.height_px))
    return v_overlap >= 0.5 * lower and h_overlap <= 0.3 * narrower


def group_lines(boxes: Sequence[TextBox]) -> list[TextLine]:
    """Group text boxes into lines, top to bottom, each line left to right."""
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: b.centre_y):
        row = next((r for r in rows if all(_same_line(box, other) for other in r)), None)
        if row is None:
            rows.append([box])
        else:
            row.append(box)
    rows.sort(key=lambda r: sum(b.centre_y for b in r) / len(r))
    lines = []
    for row in rows:
        row.sort(key=lambda b: b.x1)
        # Characters keep their own confidences where the engine gave them (the text must be plate characters).
        confs = tuple(c for b in row for c in (b.char_confidences or tuple(b.confidence for _ in _clean(b.text))))
        text = "".join(b.text for b in row)
        lines.append(TextLine(text, min(b.confidence for b in row),
                              confs if len(confs) == len(_clean(text)) else (),
                              missing=missing_character(text) or next((b.missing for b in row if b.missing), "")))
    return lines


def layout_from_shape(width_px: int, height_px: int) -> PlateLayout:
    return PlateLayout.ONE_LINE if width_px >= ONE_LINE_MIN_ASPECT * height_px else PlateLayout.TWO_LINE

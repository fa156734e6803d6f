"""Plate crop → `PlateRead`: text engine, line ordering, grammar repair, colour, and an explicit unreadable outcome.

Two-line plates are read top line then bottom line: text boxes are grouped into lines by their vertical centres.
When the engine finds only one line on a crop shaped like a two-line plate, the crop is split at its darkest
horizontal gap and each half is recognised as one line. The engine's raw text is never trusted as a plate: only
strings the Vietnamese grammar accepts (after position-aware repair) become reads, and a read whose confidence is
below the threshold is `unreadable` with its guesses kept as candidates for review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ocr.colour import PlateColourClassifier
from ocr.engines import ImageBGR, TextBox, TextEngine
from rules import plate_grammar
from rules.types import OcrCandidate, PlateColour, PlateLayout, PlateRead, ReadStatus

# A crop wider than this (width / height) is a one-line plate; narrower ones are two-line (DOMAIN §3: 4.7 vs 2.0, 1.36).
ONE_LINE_MIN_ASPECT = 3.0


@dataclass(frozen=True)
class ReaderSettings:
    min_confidence: float = 0.55  # below: unreadable (needs review), never a guess
    target_height_px: int = 96  # crops are scaled to about this height before OCR
    pad_ratio: float = 0.08  # border added around the crop so edge characters are not cut
    substitution_penalty: float = 0.93  # each grammar repair costs this factor of confidence


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float


def group_lines(boxes: Sequence[TextBox]) -> list[TextLine]:
    """Group text boxes into lines by vertical overlap, top to bottom, each line left to right."""
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: b.centre_y):
        if rows:
            last = rows[-1]
            ref = sum(b.centre_y for b in last) / len(last)
            tall = max(max(b.height_px for b in last), box.height_px)
            if abs(box.centre_y - ref) < 0.5 * tall:
                last.append(box)
                continue
        rows.append([box])
    lines = []
    for row in rows:
        row.sort(key=lambda b: b.x1)
        text = "".join(b.text for b in row)
        conf = min(b.confidence for b in row)
        lines.append(TextLine(text, conf))
    return lines


def layout_from_shape(width_px: int, height_px: int) -> PlateLayout:
    return PlateLayout.ONE_LINE if width_px >= ONE_LINE_MIN_ASPECT * height_px else PlateLayout.TWO_LINE


def _prepare(crop: ImageBGR, settings: ReaderSettings) -> ImageBGR:
    h, w = crop.shape[:2]
    scale = settings.target_height_px / max(1, h)
    if abs(scale - 1.0) > 0.15:
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        crop = cv2.resize(crop, (max(1, round(w * scale)), settings.target_height_px), interpolation=interp)
    pad = round(settings.pad_ratio * crop.shape[0])
    padded: ImageBGR = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return padded


def split_two_lines(crop: ImageBGR) -> tuple[ImageBGR, ImageBGR]:
    """Cut a two-line plate between its lines: the row band near the middle with the least ink."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    h = grey.shape[0]
    # Ink = deviation from the row's median brightness; works for dark-on-light and light-on-dark plates.
    ink = np.abs(grey.astype(np.float32) - np.median(grey, axis=1, keepdims=True)).mean(axis=1)
    lo, hi = int(h * 0.35), max(int(h * 0.65), int(h * 0.35) + 1)
    cut = lo + int(np.argmin(ink[lo:hi]))
    return crop[:cut], crop[cut:]


class PlateReader:
    def __init__(self, engine: TextEngine, colour: PlateColourClassifier, settings: ReaderSettings | None = None):
        self.engine = engine
        self.colour = colour
        self.settings = settings or ReaderSettings()

    def read(self, crop: ImageBGR) -> PlateRead:
        colour = self.colour.classify(crop)
        if crop.size == 0 or min(crop.shape[:2]) < 8:
            return _unreadable("crop too small", colour.colour, colour.confidence, ())
        layout = layout_from_shape(crop.shape[1], crop.shape[0])
        lines = self._read_lines(crop, layout)
        raw = tuple(OcrCandidate(_clean(line.text), line.confidence, f"{self.engine.name}:raw")
                    for line in lines if _clean(line.text))
        if not lines:
            return _unreadable("no text found", colour.colour, colour.confidence, raw)
        best = self._best_candidate(lines, layout)
        if best is None:
            return _unreadable("text does not match the plate grammar", colour.colour, colour.confidence, raw)
        text, confidence, candidates = best
        all_candidates = candidates + raw
        if confidence < self.settings.min_confidence:
            return _unreadable(f"confidence {confidence:.2f} below threshold", colour.colour, colour.confidence,
                               all_candidates)
        display = plate_grammar.format_plate(text, layout)
        return PlateRead(ReadStatus.READ, text, display, layout, colour.colour, round(confidence, 4),
                         round(colour.confidence, 4), all_candidates)

    def _read_lines(self, crop: ImageBGR, layout: PlateLayout) -> list[TextLine]:
        lines = group_lines(self.engine.read(_prepare(crop, self.settings)))
        if layout is PlateLayout.TWO_LINE and len(lines) < 2:
            halves = [self.engine.recognise_line(_prepare(half, self.settings)) for half in split_two_lines(crop)]
            split = [TextLine(h.text, h.confidence) for h in halves if h is not None and _clean(h.text)]
            if len(split) == 2:
                return split
        return lines

    def _best_candidate(self, lines: Sequence[TextLine],
                        layout: PlateLayout) -> tuple[str, float, tuple[OcrCandidate, ...]] | None:
        texts = [_clean(line.text) for line in lines if _clean(line.text)]
        base_conf = min((line.confidence for line in lines), default=0.0)
        repaired = plate_grammar.repair(texts, layout)
        if not repaired:
            return None
        # The grammar's repair cost lowers confidence; an ambiguous 4th motorbike character halves it, so such a
        # plate goes to review rather than being decided by a guess.
        scored = [(c.compact, base_conf * self.settings.substitution_penalty ** c.cost * (0.5 if c.ambiguous else 1.0))
                  for c in repaired]
        scored.sort(key=lambda item: -item[1])
        source = f"{self.engine.name}:grammar"
        candidates = tuple(OcrCandidate(text, round(conf, 4), source) for text, conf in scored[:5])
        text, conf = scored[0]
        return text, conf, candidates


def _clean(text: str) -> str:
    return plate_grammar.normalise(text)


def _unreadable(reason: str, colour: PlateColour, colour_conf: float,
                candidates: tuple[OcrCandidate, ...]) -> PlateRead:
    return PlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates, reason)

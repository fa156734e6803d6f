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
        lines.append(TextLine("".join(b.text for b in row), min(b.confidence for b in row)))
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
        raw: tuple[OcrCandidate, ...] = ()
        best: tuple[str, float, tuple[OcrCandidate, ...], PlateLayout] | None = None
        for lines in self._line_hypotheses(crop):
            raw += tuple(OcrCandidate(_clean(line.text), line.confidence, f"{self.engine.name}:raw")
                         for line in lines if _clean(line.text))
            # The lines found decide the layout; the crop's shape is only a hint (detector boxes are loose).
            layout = PlateLayout.TWO_LINE if len(lines) >= 2 else PlateLayout.ONE_LINE
            found = self._best_candidate(lines, layout)
            if found is not None and (best is None or found[1] > best[1]):
                best = (*found, layout)
        if best is None:
            reason = "no text found" if not raw else "text does not match the plate grammar"
            return _unreadable(reason, colour.colour, colour.confidence, _dedup(raw))
        text, confidence, candidates, layout = best
        all_candidates = _dedup(candidates + raw)
        if confidence < self.settings.min_confidence:
            return _unreadable(f"confidence {confidence:.2f} below threshold", colour.colour, colour.confidence,
                               all_candidates)
        display = plate_grammar.format_plate(text, layout)
        return PlateRead(ReadStatus.READ, text, display, layout, colour.colour, round(confidence, 4),
                         round(colour.confidence, 4), all_candidates)

    def _line_hypotheses(self, crop: ImageBGR) -> list[list[TextLine]]:
        """The engine's own lines; for a crop shaped like a two-line plate where it found fewer than two lines,
        also the crop split between its lines and each half recognised as one line. The better read wins."""
        lines = group_lines(self.engine.read(_prepare(crop, self.settings)))
        hypotheses = [lines] if lines else []
        if layout_from_shape(crop.shape[1], crop.shape[0]) is PlateLayout.TWO_LINE and len(lines) < 2:
            halves = [self.engine.recognise_line(_prepare(half, self.settings)) for half in split_two_lines(crop)]
            split = [TextLine(h.text, h.confidence) for h in halves if h is not None and _clean(h.text)]
            if len(split) == 2:
                hypotheses.append(split)
        return hypotheses

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


def _dedup(candidates: tuple[OcrCandidate, ...]) -> tuple[OcrCandidate, ...]:
    seen: set[str] = set()
    out = []
    for cand in candidates:
        if cand.text not in seen:
            seen.add(cand.text)
            out.append(cand)
    return tuple(out)


def _clean(text: str) -> str:
    return plate_grammar.normalise(text)


def _unreadable(reason: str, colour: PlateColour, colour_conf: float,
                candidates: tuple[OcrCandidate, ...]) -> PlateRead:
    return PlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates, reason)

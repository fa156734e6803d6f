"""Plate crop → `PlateRead`: localise, read lines, grammar repair, colour, and an explicit unreadable outcome.

Two paths, cheapest first:

1. **Lines path** (no text detector): the plate is levelled and tightened inside the loose crop
   (`ocr.localise`), a plate narrower than 3:1 is cut between its two lines, and the engine's recogniser reads the
   line(s) in one batch with a confidence per character. Characters read unsurely also try the recogniser's
   runner-up, so the grammar can choose between what the model itself saw (`8` vs `B`) rather than guess.
2. **Detector path** (only when the lines path is not confident): the engine's own text detector on the crop,
   its boxes grouped into lines top to bottom; for a two-line-shaped crop where it finds one line, also the crop
   split between its lines. The best-scoring reading of all hypotheses wins.

The engine's raw text is never trusted as a plate: only strings the Vietnamese grammar accepts (after
position-aware repair) become reads, and a read whose confidence is below the threshold is `unreadable` with its
guesses kept as candidates for review.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np

from ocr.colour import PlateColourClassifier
from ocr.completeness import covered_character, hidden_in_line
from ocr.engines import ImageBGR, TextBox, TextEngine
from ocr.line_recogniser import RecognisedLine
from ocr.localise import (
    ONE_LINE_MIN_ASPECT,
    LocatedPlate,
    Region,
    TextRegion,
    locate,
    pad_line,
    plate_regions,
    split_two_lines,
)
from ocr.text_lines import TextLine, group_lines, layout_from_shape
from rules import plate_grammar
from rules.types import OcrCandidate, PlateColour, PlateLayout, PlateRead, ReadStatus

__all__ = ["ONE_LINE_MIN_ASPECT", "PlateReader", "ReaderSettings", "ScoredPlateRead", "TextLine", "group_lines",
           "layout_from_shape", "split_two_lines"]


@dataclass(frozen=True)
class ReaderSettings:
    min_confidence: float = 0.55  # below: unreadable (needs review), never a guess
    accept_confidence: float = 0.80  # a lines-path read this sure is final; below, the text detector runs too
    target_height_px: int = 96  # crops are scaled to about this height before the text detector
    pad_ratio: float = 0.08  # border added around the crop so edge characters are not cut
    substitution_penalty: float = 0.93  # each grammar repair costs this factor of confidence
    alternative_below: float = 0.90  # characters read less surely than this also try the recogniser's runner-up
    max_alternatives: int = 2  # at most this many unsure characters per line are varied (≤ 4 variants a line)
    # Characters smaller than this are not read: a guess, not a read. Two-line plates need taller ones, and wide
    # enough ones: their lower line has six characters' room (five digits and a dot) across the plate's width.
    # On rendered plates (`training.stress_rendered --width PX`, gates off): two-line plates with 6–8 px characters
    # gave 5 wrong reads in 543 and none above 8 px; motorbike plates 32 px wide (5.3 px a character across) the
    # last sure wrong reads and none at 36 px (6.0 px); one-line plates none at 6–8 px characters once the
    # small-character gate below applies.
    min_char_height_px: float = 6.0
    min_two_line_char_height_px: float = 8.0
    min_two_line_char_width_px: float = 5.7
    min_char_confidence: float = 0.55  # one character read less surely than this makes the plate unreadable
    # Characters under `small_char_height_px` must each be read at least `small_char_confidence`: a plate 30–60 px
    # wide is the one read surely wrong. Rendered plates, seeds 7 and 11, plain and hand-cut, as rendered and at 40,
    # 56 and 80 px wide (2400 reads, gates off, then applied): 17 wrong reads with the 0.55 gate alone, 9 with 0.8
    # below 12 px, for 42 fewer right.
    small_char_height_px: float = 12.0
    small_char_confidence: float = 0.80
    # The product of the characters' confidences — the chance that every one of them is right — must be at least
    # this: several characters each just above the per-character gate are together a guess (heavy motion blur).
    # 0.5 = more likely right than wrong; on the same 2400 rendered reads it turned 3 of the 9 wrong reads into
    # review for 7 of 2225 right ones.
    min_plate_confidence: float = 0.5
    locate_side_px: int = 256  # `read_loose` looks for the plate's text on a copy of the crop this long
    # ... and where it finds none, once more on a copy this long: a plate a third of a small crop's width has text
    # too small for the detector at 256 px, and the whole crop read instead takes a car's body for the plate.
    retry_locate_side_px: int = 512
    max_locate_upscale: float = 4.0  # ... but never enlarged more than this: a tiny crop holds no text to find


@dataclass(frozen=True)
class ScoredPlateRead(PlateRead):
    """A `PlateRead` with one confidence per character of `text` (empty when the read is unreadable), so the
    per-track vote can weigh each position by how surely it was seen."""

    char_confidences: tuple[float, ...] = ()


@dataclass(frozen=True)
class _Reading:
    text: str
    confidence: float
    layout: PlateLayout
    candidates: tuple[OcrCandidate, ...]
    char_confidences: tuple[float, ...]
    # The family the grammar read it as: an 8-character two-line string is a car (`61T` / `322.22`) or an old
    # motorbike (`61-T3` / `2222`), and where the lines broke decides which — the display must follow it.
    family: plate_grammar.PlateFamily | None = None
    missing: str = ""  # why a character seems hidden (`TextLine.missing` of one of its lines)


_FILLS = 0.85  # a crop whose largest text region is at least this share of its width and height is tight already
_LOOSE_REGIONS = 3  # text regions of a loose crop read, largest first (a plate, and a sticker or badge or two)
# A text region this many times wider than high is more than one plate's text: on rendered hand-cut plates
# (seeds 5 and 11, 240 plates) a one-line plate's region was at most 6.2 (median 4.5), two side by side 12.
_WIDEST_PLATE_TEXT = 8.5
# Whether a plate of each background prints dark characters (DOMAIN §3); an uncertain colour says nothing.
_DARK_INK = {PlateColour.WHITE: True, PlateColour.YELLOW: True, PlateColour.BLUE: False, PlateColour.RED: False}
_REPAIRED_CHAR_FACTOR = 0.8  # a character the grammar replaced by its look-alike: the model saw something else

# Character height as a share of the plate's height (DOMAIN §3 geometry: 76/110 mm one-line, 52/140 mm motorbike).
_ONE_LINE_CHAR_HEIGHT, _TWO_LINE_CHAR_HEIGHT = 0.69, 0.37
_TWO_LINE_CHARS_ACROSS = 6  # a two-line plate's lower line: five digits and a dot, edge to edge

# Lines, the layout they imply, and whether their top-to-bottom order is known from geometry.
_Hypothesis = tuple[list[TextLine], PlateLayout, bool]


def _prepare(crop: ImageBGR, settings: ReaderSettings) -> ImageBGR:
    h, w = crop.shape[:2]
    scale = settings.target_height_px / max(1, h)
    if abs(scale - 1.0) > 0.15:
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        crop = cv2.resize(crop, (max(1, round(w * scale)), settings.target_height_px), interpolation=interp)
    pad = round(settings.pad_ratio * crop.shape[0])
    padded: ImageBGR = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return padded


_Classes = tuple[tuple[str, float], ...]


class _PlateChars(NamedTuple):
    text: str
    confidences: tuple[float, ...]
    alternatives: tuple[tuple[str, float], ...]
    classes: tuple[_Classes, ...]  # empty when the recogniser gave none


def _plate_chars(line: RecognisedLine) -> _PlateChars:
    """Drop the printed separators (`-`, `.`) with their confidences: the grammar works on A–Z0–9."""
    alts = line.alternatives or tuple(("", 0.0) for _ in line.text)
    tops: tuple[_Classes, ...] = line.top_classes or tuple(() for _ in line.text)
    kept = [k for k in zip(line.text, line.char_confidences, alts, tops, strict=True) if k[0].isalnum()]
    classes = tuple(k[3] for k in kept) if line.top_classes else ()
    return _PlateChars("".join(k[0] for k in kept), tuple(k[1] for k in kept), tuple(k[2] for k in kept), classes)


def line_variants(line: RecognisedLine, below: float, limit: int) -> list[TextLine]:
    """The line as read, and with its least sure characters replaced by the recogniser's runner-up."""
    text, confs, alts, classes = _plate_chars(line)
    unsure = sorted((i for i, (c, a) in enumerate(zip(confs, alts, strict=True))
                     if c < below and a[0].isalnum() and a[1] >= 0.02), key=lambda i: confs[i])[:limit]
    variants = []
    for chosen in itertools.chain.from_iterable(itertools.combinations(unsure, k) for k in range(len(unsure) + 1)):
        chars, cc = list(text), list(confs)
        for i in chosen:
            chars[i], cc[i] = alts[i][0], alts[i][1]
        mean = sum(cc) / len(cc) if cc else 0.0
        variants.append(TextLine("".join(chars), mean, tuple(cc), classes, hidden_in_line(line.text, line.positions)))
    return variants


class PlateReader:
    def __init__(self, engine: TextEngine, colour: PlateColourClassifier, settings: ReaderSettings | None = None):
        self.engine = engine
        self.colour = colour
        self.settings = settings or ReaderSettings()

    def read(self, crop: ImageBGR) -> ScoredPlateRead:
        colour = self.colour.classify(crop)
        if crop.size == 0 or min(crop.shape[:2]) < 8:
            return _unreadable("crop too small", colour.colour, colour.confidence, ())
        located = locate(crop)
        char_h = located.image.shape[0] * (_TWO_LINE_CHAR_HEIGHT if located.two_line else _ONE_LINE_CHAR_HEIGHT)
        too_small = self._too_small(located, char_h)
        if too_small:
            # Nor is its colour worth a claim: a few pixels of background are mostly the camera's noise.
            return _unreadable(f"{too_small}: too small to read", PlateColour.UNCERTAIN, 0.0, ())
        raw: list[OcrCandidate] = []
        best = self._best_of(self._lines_path(located), raw, colour.colour)
        if best is None or best.confidence < self.settings.accept_confidence or not located.tight or best.missing:
            slow = self._best_of(self._detector_path(crop), raw, colour.colour)
            if not located.tight and best is not None and slow is not None and slow.text != best.text:
                # No plate found in the crop (a loose crop), so the lines path read guessed lines; the text
                # detector, which finds them, read something else: neither is sure enough to fine anyone.
                return _unreadable("plate not located in the crop, and its two readings differ", colour.colour,
                                   colour.confidence, _dedup(best.candidates + slow.candidates + tuple(raw)))
            if slow is not None and (best is None or (not slow.missing, slow.confidence) >
                                     (not best.missing, best.confidence)):
                best = slow
        if best is None:
            reason = "no text found" if not raw else "text does not match the plate grammar"
            return _unreadable(reason, colour.colour, colour.confidence, _dedup(tuple(raw)))
        all_candidates = _dedup(best.candidates + tuple(raw))
        if best.confidence < self.settings.min_confidence:
            return _unreadable(f"confidence {best.confidence:.2f} below threshold", colour.colour,
                               colour.confidence, all_candidates)
        hidden = best.missing or (self._covered(located, colour.colour) if located.tight else "")
        if hidden:
            # The plate's printed layout says a character is hidden, or something covers one (mud, a rack, the
            # frame's edge): the shorter plate the grammar accepts, or a bar read as `1`, is not the vehicle's.
            return _unreadable(f"a character seems hidden: {hidden}", colour.colour, colour.confidence,
                               all_candidates)
        too_unsure = self._too_unsure(best.char_confidences, char_h)
        if too_unsure:
            # A plate with one character the recogniser hardly saw, or several it saw unsurely, is a guess.
            return _unreadable(too_unsure, colour.colour, colour.confidence, all_candidates)
        display = plate_grammar.format_plate(best.text, best.layout, best.family)
        return ScoredPlateRead(ReadStatus.READ, best.text, display, best.layout, colour.colour,
                               round(best.confidence, 4), round(colour.confidence, 4), all_candidates,
                               char_confidences=best.char_confidences)

    def read_loose(self, crop: ImageBGR) -> ScoredPlateRead:
        """`_read_loose`, claiming no colour for an unreadable crop in which nothing reads as a plate: unlike the
        detector's crops, nothing vouches that it holds one (a crop of colour noise measured blue at 1.0, a patch
        of pavement white)."""
        read = self._read_loose(crop)
        if read.status is not ReadStatus.READ and not any(plate_grammar.is_valid(c.text) for c in read.candidates):
            return replace(read, colour=PlateColour.UNCERTAIN, colour_confidence=0.0)
        return read

    def _read_loose(self, crop: ImageBGR) -> ScoredPlateRead:
        """A crop cut by hand around a plate (`read-plates`), not by the plate detector: the plate may be a small
        part of it, next to a car's bright body (which the bright-blob search takes for the plate) or a dealer's
        sticker, and read at the crop's scale its characters are a few pixels high. So the plate is first found by
        its text (`ocr.localise.plate_regions` on the engine's text detector, run on a copy scaled to
        `locate_side_px`, and where that finds none once more on a larger copy) and each region found is read at
        full resolution, largest first. A crop the plate's text fills is read as it is, and so is one the engine
        finds no text in or any crop when the engine has no text detector of its own. When the crop holds two
        plates, or the one in its middle cannot be read while another can, it goes to review."""
        find_text = getattr(self.engine, "find_text", None)
        h, w = crop.shape[:2]
        if find_text is None or min(h, w) < 8:
            return self.read(crop)
        regions: list[Region] = []
        first = self.settings.locate_side_px / max(h, w)
        retry = min(self.settings.retry_locate_side_px / max(h, w), self.settings.max_locate_upscale)
        for scale in (first, retry) if retry > first else (first,):
            small = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            found: list[TextRegion] = find_text(small)
            regions = plate_regions([line.scaled(1 / scale) for line in found], w, h)[:_LOOSE_REGIONS]
            if regions:
                break
        # No text found, or a crop the plate fills: cut tightly already, read as it is.
        whole = not regions or (regions[0][2] - regions[0][0] >= _FILLS * w
                                and regions[0][3] - regions[0][1] >= _FILLS * h)
        reads = [self.read(crop)] if whole else [self.read(crop[round(y1):round(y2), round(x1):round(x2)])
                                                  for x1, y1, x2, y2 in regions]
        if any(x2 - x1 > _WIDEST_PLATE_TEXT * (y2 - y1) for x1, y1, x2, y2 in regions):
            # One text line longer than any plate's: two plates side by side (the detector joins their lines), or
            # a plate and a sign beside it; whichever plate the reader picked out of it is a guess.
            return _unreadable("plate-like text wider than one plate (two side by side?)", reads[0].colour,
                               reads[0].colour_confidence, _dedup(tuple(c for r in reads for c in r.candidates)))
        if whole:
            return reads[0]
        read = [r for r in reads if r.status is ReadStatus.READ]
        if len({r.text for r in read}) > 1:
            # Two plates in one crop (a neighbour's bumper) or a sticker the grammar accepts: not for a machine.
            return _unreadable("more than one plate-like text in the crop", reads[0].colour,
                               reads[0].colour_confidence, _dedup(tuple(c for r in reads for c in r.candidates)))
        centre = min(range(len(regions)), key=lambda i: _distance_to_centre(regions[i], w, h))
        if read and reads[centre].status is not ReadStatus.READ:
            # The crop was cut around the plate in its middle; another vehicle's plate at its side is not that one.
            return _unreadable("the plate-like text nearest the crop's centre could not be read (another could)",
                               reads[centre].colour, reads[centre].colour_confidence,
                               _dedup(tuple(c for r in reads for c in r.candidates)))
        if read:
            return max(read, key=lambda r: r.confidence)
        return replace(reads[0], candidates=_dedup(tuple(c for r in reads for c in r.candidates)))

    @staticmethod
    def _covered(located: LocatedPlate, colour: PlateColour) -> str:
        lines = list(split_two_lines(located.image)) if located.two_line else [located.image]
        return covered_character(lines, _DARK_INK.get(colour))

    def _too_small(self, located: LocatedPlate, char_h: float) -> str:
        """Why the plate's characters are too small to read ("" when they are not)."""
        s = self.settings
        if char_h < (s.min_two_line_char_height_px if located.two_line else s.min_char_height_px):
            return f"characters about {char_h:.0f} px high"
        char_w = located.image.shape[1] / _TWO_LINE_CHARS_ACROSS
        if located.two_line and char_w < s.min_two_line_char_width_px:
            return f"characters about {char_w:.0f} px wide"
        return ""

    def _too_unsure(self, char_confidences: tuple[float, ...], char_h: float) -> str:
        """Why a grammatical reading is still not sure enough to stand ("" when it is)."""
        s = self.settings
        weakest = min(char_confidences, default=0.0)
        small = char_h < s.small_char_height_px
        if weakest < (s.small_char_confidence if small else s.min_char_confidence):
            return f"a character read at confidence {weakest:.2f}" + (
                f" (characters about {char_h:.0f} px high)" if small else "")
        joint = math.prod(char_confidences)
        if joint < s.min_plate_confidence:
            return f"its characters together read at confidence {joint:.2f}"
        return ""

    def _lines_path(self, located: LocatedPlate) -> list[_Hypothesis]:
        layout = PlateLayout.TWO_LINE if located.two_line else PlateLayout.ONE_LINE
        images = list(split_two_lines(located.image)) if located.two_line else [located.image]
        if min(min(i.shape[:2]) for i in images) < 4:
            return []
        read = self._recognise_lines([pad_line(i) for i in images])
        s = self.settings
        per_line = [line_variants(r, s.alternative_below, s.max_alternatives) for r in read]
        if any(not v or not v[0].text for v in per_line):
            return []
        return [(list(combo), layout, True) for combo in itertools.product(*per_line)]

    def _recognise_lines(self, images: list[ImageBGR]) -> list[RecognisedLine]:
        batch = getattr(self.engine, "recognise_lines", None)
        if batch is not None:
            lines: list[RecognisedLine] = batch(images)
            return lines
        # An engine written before per-character confidences (a test double, a plug-in): one score per line.
        boxes = [self.engine.recognise_line(image) for image in images]
        return [RecognisedLine(t, tuple(b.confidence for _ in t)) if b else RecognisedLine("", ())
                for b, t in ((b, _clean(b.text) if b else "") for b in boxes)]

    def _detector_path(self, crop: ImageBGR) -> list[_Hypothesis]:
        """The engine's text detector on the crop, its boxes grouped into lines; for a crop shaped like a two-line
        plate where it found fewer than two lines, also the crop split between its lines. Every box and half is
        (re-)read by the recogniser, so characters carry their own confidences on this path too."""
        prepared = _prepare(crop, self.settings)
        boxes = self.engine.read(prepared)
        cuts = [prepared[max(0, int(b.y1)):int(b.y2) + 1, max(0, int(b.x1)):int(b.x2) + 1] for b in boxes]
        if boxes and all(c.size for c in cuts) and getattr(self.engine, "recognise_lines", None) is not None:
            reread = self._recognise_lines([pad_line(c) for c in cuts])
            # The text keeps its printed separators (the grammar drops them; the completeness check reads them).
            boxes = [TextBox(r.text, b.confidence if not confs else sum(confs) / len(confs), b.x1, b.y1, b.x2, b.y2,
                             char_confidences=confs, missing=hidden_in_line(r.text, r.positions))
                     for r, (text, confs, _, _), b in zip(reread, map(_plate_chars, reread), boxes, strict=True)
                     if text]
        lines = group_lines(boxes)
        hypotheses = [lines] if lines else []
        if layout_from_shape(crop.shape[1], crop.shape[0]) is PlateLayout.TWO_LINE and len(lines) < 2:
            halves = self._recognise_lines([_prepare(half, self.settings) for half in split_two_lines(crop)])
            split = [TextLine(h.text, sum(h.confidences) / len(h.confidences), h.confidences, h.classes,
                              hidden_in_line(r.text, r.positions))
                     for r, h in zip(halves, map(_plate_chars, halves), strict=True) if h.text]
            if len(split) == 2:
                hypotheses.append(split)
        # The lines found decide the layout; the crop's shape is only a hint (detector boxes are loose).
        return [(h, PlateLayout.TWO_LINE if len(h) >= 2 else PlateLayout.ONE_LINE, False) for h in hypotheses]

    def _best_of(self, hypotheses: Sequence[_Hypothesis], raw: list[OcrCandidate],
                 colour: PlateColour) -> _Reading | None:
        best: _Reading | None = None
        for lines, layout, ordered in hypotheses:
            raw.extend(OcrCandidate(_clean(line.text), round(min(1.0, line.confidence), 4),
                                    f"{self.engine.name}:raw") for line in lines if _clean(line.text))
            found = self._best_candidate(lines, layout, ordered, colour)
            # A reading with a character that seems hidden ranks below every whole one.
            if found is not None and (best is None or (not found.missing, found.confidence) >
                                      (not best.missing, best.confidence)):
                best = found
        return best

    def _best_candidate(self, lines: Sequence[TextLine], layout: PlateLayout, ordered: bool,
                        colour: PlateColour) -> _Reading | None:
        texts = [_clean(line.text) for line in lines if _clean(line.text)]
        base_conf = min((line.confidence for line in lines), default=0.0)
        repaired = [c for c in plate_grammar.repair(texts, layout, lines_ordered=ordered)
                    if plate_grammar.family_fits_colour(c.family, colour)]
        if not repaired:
            return None
        # The grammar's repair cost lowers confidence and ranks the readings.
        scored = sorted(((c, base_conf * self.settings.substitution_penalty ** c.cost) for c in repaired),
                        key=lambda item: (-item[1], item[0].compact))
        source = f"{self.engine.name}:grammar"
        candidates = tuple(OcrCandidate(c.compact, round(conf, 4), source) for c, conf in scored[:5])
        top, conf = scored[0]
        char_confs = _char_confidences(top.compact, conf, lines)
        # An ambiguous 4th motorbike character (letter of a new series or digit of an old one, both grammatical)
        # halves the confidence, so the plate goes to review rather than being decided by a guess — unless the
        # recogniser itself read that very character surely. The halving comes after the ranking: a costlier
        # reading (a dropped character) must not overtake the right one just because that one is ambiguous.
        if top.ambiguous and char_confs[3] < self.settings.alternative_below:
            conf *= 0.5
        missing = next((line.missing for line in lines if line.missing), "")
        return _Reading(top.compact, conf, layout, candidates, char_confs, top.family, missing)


def _char_confidences(text: str, confidence: float, lines: Sequence[TextLine]) -> tuple[float, ...]:
    """Per character of the repaired `text`, aligned back to the raw lines: the recogniser's probability that the
    character is what the grammar made of it — its own class plus the look-alikes the grammar reads as it in that
    slot (a letter slot's `8`, `9` and `B` are all `B`), where the recogniser gave its classes, else its own
    confidence; 0.8 of that for a look-alike the grammar replaced; half the read's confidence for a character with
    no counterpart (the raw lines had a different number of characters there)."""
    raw = "".join(_clean(line.text) for line in lines)
    confs = [c for line in lines for c in (line.char_confidences or tuple(line.confidence for _ in _clean(line.text)))]
    if len(confs) != len(raw):
        return tuple(round(confidence, 4) for _ in text)
    classes: list[_Classes] = [c for line in lines
                               for c in (line.char_classes or tuple(() for _ in _clean(line.text)))]
    if len(classes) != len(raw):
        classes = [() for _ in raw]

    def share(i: int, final: str) -> float:
        # The recogniser's probability mass on `final` and its look-alikes; at least what it said before.
        return min(1.0, max(confs[i], sum(p for ch, p in classes[i] if plate_grammar.reads_as(ch, final))))

    out: list[float] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, raw, text, autojunk=False).get_opcodes():
        if op == "equal":
            out.extend(share(i, text[j1 + i - i1]) for i in range(i1, i2))
        elif op == "replace" and i2 - i1 == j2 - j1:
            out.extend(_REPAIRED_CHAR_FACTOR * share(i, text[j1 + i - i1]) for i in range(i1, i2))
        elif op != "delete":
            out.extend(0.5 * confidence for _ in range(j2 - j1))
    return tuple(round(c, 4) for c in out)


def _distance_to_centre(region: Region, width: int, height: int) -> float:
    """How far a region's centre is from the crop's, in shares of the crop's size."""
    x1, y1, x2, y2 = region
    return float(np.hypot((x1 + x2) / 2 / width - 0.5, (y1 + y2) / 2 / height - 0.5))


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
                candidates: tuple[OcrCandidate, ...]) -> ScoredPlateRead:
    return ScoredPlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates, reason)

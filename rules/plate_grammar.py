"""Vietnamese number-plate grammar (DOMAIN §3): normalise, parse, validate, repair OCR text, format for display.

Compact form: upper-case A–Z0–9 only, separators removed, `Đ` folded to `D` (e.g. "30A12345").

Repair is position-aware: each plate family is a template of slots (digit / civilian letter / any letter), and a
character that does not fit its slot is replaced by its usual OCR look-alike (O→0 in a digit slot, 0→D in a letter
slot, ...). Every substitution costs, so readings that need fewer repairs rank first. The 4th character of a
9-character motorbike string is a letter (new series `29AA`) or a digit (old series `29B1`): both templates are
tried and both readings are returned when both are valid; such candidates are flagged `ambiguous` so the consensus
stage decides across frames instead of the grammar guessing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

from rules.types import PlateColour, PlateLayout, VehicleClass

# 11–99 except 13, 42, 44, 45, 46, 87, 91, 96 (H) → 81 codes.
PROVINCE_CODES: frozenset[str] = frozenset(
    f"{code:02d}" for code in range(11, 100) if code not in {13, 42, 44, 45, 46, 87, 91, 96}
)
CIVILIAN_LETTERS: frozenset[str] = frozenset("ABCDEFGHKLMNPRSTUVXYZ")  # A–Z without I J O Q W
SPECIAL_SERIES: frozenset[str] = frozenset({"LD", "DA", "KT", "MK", "MD", "CD", "HC", "TD", "RM"})
DIPLOMATIC_CODES: frozenset[str] = frozenset({"NG", "QT", "CV", "NN"})

_L = "[" + "".join(sorted(CIVILIAN_LETTERS)) + "]"  # the civilian letters as a regex class
_SPECIAL = "|".join(sorted(SPECIAL_SERIES))


class PlateFamily(StrEnum):
    CAR = "car"  # PP L NNNNN
    CAR_LEGACY = "car_legacy"  # PP L NNNN
    SPECIAL = "special"  # PP LD|DA|KT|... NNNN(N)
    MOTORBIKE_NEW = "motorbike_new"  # PP LL NNNNN
    MOTORBIKE_OLD = "motorbike_old"  # PP L D NNNN(N), also PP MD D NNNNN
    DIPLOMATIC = "diplomatic"  # PP NNN NG|QT|CV|NN NN(N)
    MILITARY = "military"  # LL NNNN(N), unit letters first


@dataclass(frozen=True)
class ParsedPlate:
    """One grammatical reading of a compact plate. `province` is "" for military plates."""

    compact: str
    family: PlateFamily
    province: str
    series: str
    number: str

    @property
    def vehicle_hint(self) -> VehicleClass | None:
        """What the text alone suggests (series letters no longer encode the type; colour/registry decide)."""
        if self.family in (PlateFamily.CAR, PlateFamily.CAR_LEGACY):
            return VehicleClass.CAR
        if self.family in (PlateFamily.MOTORBIKE_NEW, PlateFamily.MOTORBIKE_OLD):
            return VehicleClass.MOTORCYCLE
        return None


@dataclass(frozen=True)
class GrammarCandidate:
    """A valid plate produced by `repair`, with what it took to get there (lower `cost` is better)."""

    compact: str
    parsed: ParsedPlate
    cost: float
    substitutions: int
    deletions: int
    ambiguous: bool = False

    @property
    def family(self) -> PlateFamily:
        return self.parsed.family

    @property
    def score(self) -> float:
        """Cost mapped to (0, 1]: 1.0 for a reading that needed no repair."""
        return 1.0 / (1.0 + self.cost)


# Order matters: for the same text, earlier families are preferred when nothing else decides.
_PATTERNS: tuple[tuple[PlateFamily, re.Pattern[str]], ...] = (
    (PlateFamily.CAR, re.compile(rf"(\d\d)({_L})(\d{{5}})")),
    (PlateFamily.CAR_LEGACY, re.compile(rf"(\d\d)({_L})(\d{{4}})")),
    (PlateFamily.SPECIAL, re.compile(rf"(\d\d)({_SPECIAL})(\d{{4,5}})")),
    (PlateFamily.MOTORBIKE_NEW, re.compile(rf"(\d\d)({_L}{_L})(\d{{5}})")),
    (PlateFamily.MOTORBIKE_OLD, re.compile(rf"(\d\d)((?:{_L}|MD)[1-9])(\d{{4,5}})")),
    (PlateFamily.DIPLOMATIC, re.compile(r"(\d\d)(\d{3}(?:NG|QT|CV|NN))(\d{2,3})")),
    (PlateFamily.MILITARY, re.compile(r"()([ABHKPQT][A-HK-NP-VX-Z])(\d{4,5})")),
)

_FOLD = str.maketrans({"Đ": "D", "đ": "D", "Ð": "D", "ð": "D"})
_NON_PLATE = re.compile(r"[^A-Z0-9]")


def normalise(text: str) -> str:
    """Compact form: fold Đ→D and accents, upper-case, drop everything but A–Z0–9 (so `-`, `.`, spaces go)."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NON_PLATE.sub("", ascii_only.upper())


def parse_all(compact: str) -> tuple[ParsedPlate, ...]:
    """Every grammatical reading of a compact plate, preferred first (an 8-char string may be car or old motorbike)."""
    readings: list[ParsedPlate] = []
    for family, pattern in _PATTERNS:
        match = pattern.fullmatch(compact)
        if match is None:
            continue
        province, series, number = match.groups()
        if family is not PlateFamily.MILITARY and province not in PROVINCE_CODES:
            continue
        readings.append(ParsedPlate(compact, family, province, series, number))
    return tuple(readings)


def parse(compact: str, layout: PlateLayout | None = None) -> ParsedPlate | None:
    """The preferred reading of an already compact plate, or None. Motorbike plates are two-line only."""
    readings = parse_all(compact)
    if layout is PlateLayout.ONE_LINE:
        one_line = [p for p in readings if p.vehicle_hint is not VehicleClass.MOTORCYCLE]
        readings = tuple(one_line) or readings
    return readings[0] if readings else None


def is_valid(compact: str) -> bool:
    return bool(parse_all(compact))


# --- display ---------------------------------------------------------------------------------------------------

def _group_number(number: str) -> str:
    return f"{number[:3]}.{number[3:]}" if len(number) == 5 else number


def format_plate(compact: str, layout: PlateLayout | None = None,
                 family: PlateFamily | None = None) -> tuple[str, ...]:
    """Display lines, top line first: ("30A-123.45",), ("30A", "123.45"), ("29-AA", "123.45").

    `layout` None means the family's usual layout (motorbikes two lines, everything else one). `family` picks the
    reading of an ambiguous string. A string that is not a plate is returned unchanged as one line.
    """
    readings = parse_all(compact)
    chosen = next((p for p in readings if p.family is family), None) if family else None
    plate = chosen or parse(compact, layout)
    if plate is None:
        return (compact,)
    number = _group_number(plate.number)
    if plate.family is PlateFamily.DIPLOMATIC:
        top, bottom = f"{plate.province}-{plate.series[:3]}", f"{plate.series[3:]}-{plate.number}"
        joiner = "-"
    elif plate.family is PlateFamily.MILITARY:
        digits = plate.number
        top, bottom, joiner = plate.series, f"{digits[:-2]}-{digits[-2:]}", "-"
    elif plate.family in (PlateFamily.MOTORBIKE_NEW, PlateFamily.MOTORBIKE_OLD):
        top, bottom, joiner = f"{plate.province}-{plate.series}", number, " "
    else:
        top, bottom, joiner = f"{plate.province}{plate.series}", number, "-"
    is_motorbike = plate.vehicle_hint is VehicleClass.MOTORCYCLE
    if layout is PlateLayout.TWO_LINE or (layout is None and is_motorbike):
        return (top, bottom)
    return (f"{top}{joiner}{bottom}",)


# --- repair ----------------------------------------------------------------------------------------------------

_SURE, _UNSURE = 1.0, 1.5
_TO_DIGIT: dict[str, tuple[str, float]] = {
    "O": ("0", _SURE), "Q": ("0", _SURE), "D": ("0", _SURE), "U": ("0", _UNSURE),
    "I": ("1", _SURE), "J": ("1", _SURE), "L": ("1", _SURE), "T": ("1", _UNSURE),
    "Z": ("2", _SURE), "S": ("5", _SURE), "G": ("6", _SURE), "B": ("8", _SURE), "A": ("4", _UNSURE),
}
_TO_LETTER: dict[str, tuple[str, float]] = {
    "0": ("D", _SURE), "O": ("D", _SURE), "Q": ("D", _UNSURE), "8": ("B", _SURE), "2": ("Z", _SURE),
    "5": ("S", _SURE), "6": ("G", _SURE), "4": ("A", _UNSURE), "1": ("T", _UNSURE), "I": ("T", _UNSURE),
    # A blurred B in the plate font loses its left stem and reads as 9; no digit belongs in a letter slot.
    "9": ("B", _UNSURE),
}
_UNIT_LETTERS = CIVILIAN_LETTERS | {"Q"}  # diplomatic QT and military QH, QK... use Q
_DIGITS = frozenset("0123456789")

# Slot kinds: d digit, l civilian letter, x civilian letter or Q (the family pattern checks the exact series).
# (family, slots, natural line split of a two-line plate or 0 when it has none, where printed separators sit)
_Template = tuple[PlateFamily, str, int, frozenset[int]]
_TEMPLATES: tuple[_Template, ...] = (
    (PlateFamily.CAR, "ddlddddd", 3, frozenset({3, 6})),
    (PlateFamily.CAR_LEGACY, "ddldddd", 3, frozenset({3})),
    (PlateFamily.SPECIAL, "ddxxdddd", 4, frozenset({4})),
    (PlateFamily.SPECIAL, "ddxxddddd", 4, frozenset({4, 7})),
    (PlateFamily.MOTORBIKE_NEW, "ddllddddd", 4, frozenset({2, 4, 7})),
    (PlateFamily.MOTORBIKE_OLD, "ddldddddd", 4, frozenset({2, 4, 7})),
    (PlateFamily.MOTORBIKE_OLD, "ddlddddd", 4, frozenset({2, 4})),
    (PlateFamily.MOTORBIKE_OLD, "ddxxdddddd", 5, frozenset({2, 5, 8})),
    (PlateFamily.DIPLOMATIC, "dddddxxdd", 0, frozenset({2, 5, 7})),
    (PlateFamily.DIPLOMATIC, "dddddxxddd", 0, frozenset({2, 5, 7})),
    (PlateFamily.MILITARY, "xxdddd", 0, frozenset({2, 4})),
    (PlateFamily.MILITARY, "xxddddd", 0, frozenset({2, 5})),
)
_TEMPLATES_BY_LEN: dict[int, tuple[_Template, ...]] = {
    n: tuple(t for t in _TEMPLATES if len(t[1]) == n) for n in {len(t[1]) for t in _TEMPLATES}
}
_MIN_LEN, _MAX_LEN = min(_TEMPLATES_BY_LEN), max(_TEMPLATES_BY_LEN)

_END_DELETION_COST = 1.2  # junk at the crop edge (a bolt, the frame) is the commonest extra character
_INNER_DELETION_COST = 1.5  # an extra character inside the plate text
_SEPARATOR_DELETION_COST = 1.1  # a printed separator (`-`, `.`) read as 1/I/L, e.g. "30A-1123.45"
_SEPARATOR_LOOKALIKES = frozenset("1IJLT")
_SWAPPED_LINES_COST = 1.0  # two-line plate read bottom line first
_SINGLE_LINE_COST = 2.0  # only one of several lines used
_SPLIT_MISMATCH_COST = 0.5  # the line break is not where this family puts it
_LAYOUT_MISMATCH_COST = 2.0  # a motorbike family on a one-line plate
_MILITARY_PRIOR_COST = 0.5  # rare on civil roads (and red plates are exempt): needs a little more evidence
_MAX_COST = 3.0  # beyond this the "repair" is invention: better unreadable than a wrong plate
_MAX_RESULTS = 8


def reads_as(seen: str, final: str) -> bool:
    """Whether the grammar repairs the OCR character `seen` to `final` in the slot `final` sits in: `final`
    itself, or a look-alike of it (a letter slot: `8`/`9` → `B`, `0` → `D`...; a digit slot: `B` → `8`...)."""
    if seen == final:
        return True
    table = _TO_DIGIT if final in _DIGITS else _TO_LETTER
    fitted = table.get(seen)
    return fitted is not None and fitted[0] == final


def _fit_slot(ch: str, slot: str) -> tuple[str, float] | None:
    if slot == "d":
        return (ch, 0.0) if ch in _DIGITS else _TO_DIGIT.get(ch)
    allowed = CIVILIAN_LETTERS if slot == "l" else _UNIT_LETTERS
    if ch in allowed:
        return (ch, 0.0)
    return _TO_LETTER.get(ch)


def _fit_template(text: str, slots: str) -> tuple[str, float, int] | None:
    out: list[str] = []
    cost, subs = 0.0, 0
    for ch, slot in zip(text, slots, strict=True):
        fitted = _fit_slot(ch, slot)
        if fitted is None:
            return None
        out.append(fitted[0])
        if fitted[1]:
            cost += fitted[1]
            subs += 1
    return "".join(out), cost, subs


class _Variant(NamedTuple):
    text: str
    split: int  # index of the line break in `text`, 0 when unknown
    cost: float
    deletions: int
    deleted_at: int  # for one inner separator-like deletion: index in `text` where the character was; else -1


def _deletion_variants(text: str, split: int) -> list[_Variant]:
    """The text itself and the text with junk characters removed (one anywhere, or two at the ends)."""
    variants = [_Variant(text, split, 0.0, 0, -1)]
    n = len(text)
    if n - 1 >= _MIN_LEN:
        for i in range(n):
            at_end = i in (0, n - 1)
            cost = _END_DELETION_COST if at_end else _INNER_DELETION_COST
            deleted_at = i if not at_end and text[i] in _SEPARATOR_LOOKALIKES else -1
            variants.append(_Variant(text[:i] + text[i + 1:], split - (i < split), cost, 1, deleted_at))
    if n - 2 >= _MIN_LEN:
        both_ends = 2 * _END_DELETION_COST
        variants.append(_Variant(text[1:-1], split - 1, both_ends, 2, -1))
        variants.append(_Variant(text[2:], split - 2, both_ends, 2, -1))
        variants.append(_Variant(text[:-2], split, both_ends, 2, -1))
    return [v for v in variants if _MIN_LEN <= len(v.text) <= _MAX_LEN]


def _sources(lines: Sequence[str], lines_ordered: bool = False) -> list[tuple[str, int, float]]:
    """(joined text, index of the line break or 0, cost) for the ways of reading the OCR lines. Lines whose
    order is known from geometry (cut top/bottom by the caller) are never tried bottom line first."""
    cleaned = [c for c in (normalise(line) for line in lines) if c]
    if not cleaned:
        return []
    if len(cleaned) == 1:
        return [(cleaned[0], 0, 0.0)]
    sources = [("".join(cleaned), len(cleaned[0]) if len(cleaned) == 2 else 0, 0.0)]
    if len(cleaned) == 2 and not lines_ordered:
        sources.append((cleaned[1] + cleaned[0], len(cleaned[1]), _SWAPPED_LINES_COST))
    sources.extend((line, 0, _SINGLE_LINE_COST) for line in cleaned)
    return sources


def _context_cost(family: PlateFamily, natural_split: int, split: int, layout: PlateLayout | None) -> float:
    cost = 0.0
    is_motorbike = family in (PlateFamily.MOTORBIKE_NEW, PlateFamily.MOTORBIKE_OLD)
    if layout is PlateLayout.ONE_LINE and is_motorbike:
        cost += _LAYOUT_MISMATCH_COST
    if split and natural_split and split != natural_split:
        cost += _SPLIT_MISMATCH_COST
    if family is PlateFamily.MILITARY:
        cost += _MILITARY_PRIOR_COST
    return cost


def family_fits_colour(family: PlateFamily, colour: PlateColour) -> bool:
    """Whether a plate of `family` can have this background (DOMAIN §3). Military plates are red; a
    military-shaped reading of a plate seen white, yellow or blue is a civilian plate misread (a blurred
    province code read as two letters), never a military one. An uncertain colour excludes nothing."""
    if family is PlateFamily.MILITARY:
        return colour in (PlateColour.RED, PlateColour.UNCERTAIN)
    return True


def repair(lines: Sequence[str], layout: PlateLayout | None = None,
           lines_ordered: bool = False) -> list[GrammarCandidate]:
    """Valid plates that the raw OCR `lines` (top line first) most plausibly show, best first.

    Tolerates look-alike characters by slot, one or two junk characters (ends) or one inside, a two-line plate read
    in the wrong order (unless `lines_ordered`: the caller cut the lines top and bottom itself), and an extra
    line. Returns [] when nothing grammatical is within reach.
    """
    best: dict[str, GrammarCandidate] = {}
    ambiguous: set[str] = set()
    for source, split, source_cost in _sources(lines, lines_ordered):
        for variant in _deletion_variants(source, split):
            motorbike_readings: list[tuple[str, float]] = []
            for family, slots, natural_split, separators in _TEMPLATES_BY_LEN.get(len(variant.text), ()):
                fitted = _fit_template(variant.text, slots)
                if fitted is None:
                    continue
                compact, sub_cost, subs = fitted
                plate = next((p for p in parse_all(compact) if p.family is family), None)
                if plate is None:
                    continue
                del_cost = _SEPARATOR_DELETION_COST if variant.deleted_at in separators else variant.cost
                cost = (source_cost + del_cost + sub_cost
                        + _context_cost(family, natural_split, variant.split, layout))
                if len(compact) == 9 and family in (PlateFamily.MOTORBIKE_NEW, PlateFamily.MOTORBIKE_OLD):
                    motorbike_readings.append((compact, sub_cost))
                known = best.get(compact)
                if cost <= _MAX_COST and (known is None or cost < known.cost):
                    best[compact] = GrammarCandidate(compact, plate, round(cost, 3), subs, variant.deletions)
            ambiguous.update(_letter_or_digit_ambiguity(motorbike_readings))
    ranked = sorted(best.values(), key=lambda c: (c.cost, c.compact))[:_MAX_RESULTS]
    return [replace(c, ambiguous=True) if c.compact in ambiguous else c for c in ranked]


def _letter_or_digit_ambiguity(readings: list[tuple[str, float]]) -> set[str]:
    """The same 9 characters read as both new (`29AA`) and old (`29A1`) motorbike series, about equally plausibly
    (substitution costs within one sure substitution): the grammar must not pick between them."""
    if len(readings) < 2:
        return set()
    cheapest = min(cost for _, cost in readings)
    close = {text for text, cost in readings if cost - cheapest <= _SURE}
    return close if len(close) > 1 else set()

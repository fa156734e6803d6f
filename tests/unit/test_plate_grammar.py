"""Vietnamese plate grammar: normalise, parse, validate, repair OCR text, format for display (DOMAIN §3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.plate_grammar import (
    CIVILIAN_LETTERS,
    PROVINCE_CODES,
    PlateFamily,
    format_plate,
    is_valid,
    normalise,
    parse,
    parse_all,
    repair,
)
from rules.types import PlateLayout, VehicleClass


def test_province_codes_are_the_81_valid_ones() -> None:
    assert len(PROVINCE_CODES) == 81
    assert {"29", "30", "31", "32", "33", "40", "41", "50", "59", "61", "72"} <= PROVINCE_CODES
    assert not {"10", "13", "42", "44", "45", "46", "87", "91", "96"} & PROVINCE_CODES


@pytest.mark.parametrize(("raw", "compact"), [
    ("30A-123.45", "30A12345"),
    ("29-AA 123.45", "29AA12345"),
    ("30lđ-123.45", "30LD12345"),
    ("29-MĐ1 123.45", "29MD112345"),
    (" 51f • 999 99 ", "51F99999"),
    ("", ""),
])
def test_normalise(raw: str, compact: str) -> None:
    assert normalise(raw) == compact


@pytest.mark.parametrize(("compact", "family", "province", "series", "number"), [
    ("30A12345", PlateFamily.CAR, "30", "A", "12345"),
    ("29A1234", PlateFamily.CAR_LEGACY, "29", "A", "1234"),
    ("29AA12345", PlateFamily.MOTORBIKE_NEW, "29", "AA", "12345"),
    ("29B112345", PlateFamily.MOTORBIKE_OLD, "29", "B1", "12345"),
    ("29MD112345", PlateFamily.MOTORBIKE_OLD, "29", "MD1", "12345"),
    ("30LD12345", PlateFamily.SPECIAL, "30", "LD", "12345"),
    ("29KT1234", PlateFamily.SPECIAL, "29", "KT", "1234"),
    ("80011NG01", PlateFamily.DIPLOMATIC, "80", "011NG", "01"),
    ("41291QT123", PlateFamily.DIPLOMATIC, "41", "291QT", "123"),
    ("TM1234", PlateFamily.MILITARY, "", "TM", "1234"),
    ("QH12345", PlateFamily.MILITARY, "", "QH", "12345"),
    ("29R01234", PlateFamily.CAR, "29", "R", "01234"),
])
def test_parse_families(compact: str, family: PlateFamily, province: str, series: str, number: str) -> None:
    plate = parse(compact)
    assert plate is not None
    assert (plate.family, plate.province, plate.series, plate.number) == (family, province, series, number)
    assert is_valid(compact)


@pytest.mark.parametrize("compact", [
    "13A12345",  # province 13 not used
    "96A12345",  # province 96 not used
    "10A12345",  # below 11
    "30I12345", "30O12345", "30Q12345", "30W12345", "30J12345",  # letters never used
    "30A123", "30A1234567",  # too few / many digits
    "29AA1234",  # new motorbike needs 5 digits
    "29A012345",  # old motorbike series digit is 1-9
    "80011XX01",  # not a diplomatic code
    "ZZ1234",  # not a military unit letter
    "30-A12345", "30a12345", "",  # not compact
])
def test_invalid_plates(compact: str) -> None:
    assert parse(compact) is None
    assert not is_valid(compact)


def test_eight_chars_are_car_or_old_motorbike_and_layout_decides() -> None:
    families = [p.family for p in parse_all("54T15417")]
    assert families == [PlateFamily.CAR, PlateFamily.MOTORBIKE_OLD]
    plate = parse("54T15417", PlateLayout.ONE_LINE)
    assert plate is not None and plate.vehicle_hint is VehicleClass.CAR
    assert format_plate("54T15417", PlateLayout.TWO_LINE, PlateFamily.MOTORBIKE_OLD) == ("54-T1", "5417")


@pytest.mark.parametrize(("compact", "layout", "lines"), [
    ("30A12345", PlateLayout.ONE_LINE, ("30A-123.45",)),
    ("30A12345", PlateLayout.TWO_LINE, ("30A", "123.45")),
    ("30A12345", None, ("30A-123.45",)),
    ("29A1234", PlateLayout.ONE_LINE, ("29A-1234",)),
    ("29AA12345", PlateLayout.TWO_LINE, ("29-AA", "123.45")),
    ("29AA12345", None, ("29-AA", "123.45")),
    ("29B112345", PlateLayout.TWO_LINE, ("29-B1", "123.45")),
    ("30LD12345", PlateLayout.ONE_LINE, ("30LD-123.45",)),
    ("80011NG01", PlateLayout.ONE_LINE, ("80-011-NG-01",)),
    ("TM1234", PlateLayout.ONE_LINE, ("TM-12-34",)),
    ("garbage", None, ("garbage",)),
])
def test_format_plate(compact: str, layout: PlateLayout | None, lines: tuple[str, ...]) -> None:
    assert format_plate(compact, layout) == lines


def _best(lines: list[str], layout: PlateLayout | None = None) -> str:
    candidates = repair(lines, layout)
    assert candidates, f"no candidate for {lines}"
    return candidates[0].compact


@pytest.mark.parametrize(("raw", "expected"), [
    ("3OA-123.45", "30A12345"),  # O→0 in a province digit slot
    ("30A-I23.45", "30A12345"),  # I→1 in a number slot
    ("30A-1Z3.45", "30A12345"),  # Z→2
    ("30A-123.4S", "30A12345"),  # S→5
    ("30A-1G3.45", "30A16345"),  # G→6
    ("30A-1B3.45", "30A18345"),  # B→8
    ("30A-D23.45", "30A02345"),  # D→0 in a number slot
    ("300-123.45", "30D12345"),  # 0→D in the series letter slot
    ("308-123.45", "30B12345"),  # 8→B
    ("302-123.45", "30Z12345"),  # 2→Z
    ("305-123.45", "30S12345"),  # 5→S
    ("306-123.45", "30G12345"),  # 6→G
    ("309-123.45", "30B12345"),  # 9→B: a blurred B loses its left stem
    ("30A-123.45", "30A12345"),  # already valid: unchanged
])
def test_repair_by_position(raw: str, expected: str) -> None:
    assert _best([raw], PlateLayout.ONE_LINE) == expected


def test_repair_counts_substitutions_and_prefers_fewer() -> None:
    best = repair(["3OA-I23.45"], PlateLayout.ONE_LINE)[0]
    assert (best.compact, best.substitutions, best.deletions) == ("30A12345", 2, 0)
    clean = repair(["30A-123.45"], PlateLayout.ONE_LINE)[0]
    assert clean.substitutions == 0 and clean.cost == 0.0 and clean.score == 1.0
    assert best.cost > clean.cost


def test_two_line_order_is_top_then_bottom() -> None:
    assert _best(["29-AA", "123.45"], PlateLayout.TWO_LINE) == "29AA12345"
    assert _best(["30A", "123.45"], PlateLayout.TWO_LINE) == "30A12345"


def test_two_lines_read_bottom_first_are_recovered_at_a_cost() -> None:
    swapped = repair(["123.45", "29-AA"], PlateLayout.TWO_LINE)
    in_order = repair(["29-AA", "123.45"], PlateLayout.TWO_LINE)
    assert swapped[0].compact == "29AA12345"
    assert swapped[0].cost > in_order[0].cost


def test_lines_cut_by_geometry_are_never_read_bottom_first() -> None:
    assert "29AA12345" in {c.compact for c in repair(["123.45", "29-AA"], PlateLayout.TWO_LINE)}
    assert "29AA12345" not in {c.compact for c in repair(["123.45", "29-AA"], PlateLayout.TWO_LINE,
                                                         lines_ordered=True)}
    # A top line with a digit in its letter slot is repaired in place rather than swapped below the number.
    ordered = repair(["29-91", "456.78"], PlateLayout.TWO_LINE, lines_ordered=True)
    assert ordered[0].compact == "29B145678"
    assert all(not c.compact.startswith("45") for c in ordered)


def test_nine_stays_a_digit_in_digit_slots() -> None:
    assert _best(["29-B1", "999.99"], PlateLayout.TWO_LINE) == "29B199999"
    assert _best(["99A-123.45"], PlateLayout.ONE_LINE) == "99A12345"


def test_line_split_decides_car_or_old_motorbike() -> None:
    assert repair(["30A", "12345"], PlateLayout.TWO_LINE)[0].family is PlateFamily.CAR
    assert repair(["30A1", "2345"], PlateLayout.TWO_LINE)[0].family is PlateFamily.MOTORBIKE_OLD


def test_ambiguous_fourth_position_is_never_repaired_blindly() -> None:
    # "29B8 123.45": old series B8 as read, or new series BB with 8→B. Both valid: both returned, both flagged.
    candidates = {c.compact: c for c in repair(["29B8", "12345"], PlateLayout.TWO_LINE)}
    assert {"29B812345", "29BB12345"} <= set(candidates)
    assert candidates["29B812345"].ambiguous and candidates["29BB12345"].ambiguous
    # The other way round: "29A8" read with a letter-like 4th char.
    letters = {c.compact: c for c in repair(["29-AB", "123.45"], PlateLayout.TWO_LINE)}
    assert {"29AB12345", "29A812345"} <= set(letters)
    assert letters["29AB12345"].ambiguous


def test_unambiguous_motorbike_is_not_flagged() -> None:
    best = repair(["29-AA", "123.45"], PlateLayout.TWO_LINE)[0]
    assert best.compact == "29AA12345" and not best.ambiguous


@pytest.mark.parametrize(("raw", "expected"), [
    ("I30A-123.45", "30A12345"),  # leading junk
    ("30A-123.45I", "30A12345"),  # trailing junk
    ("|30A-123.45|", "30A12345"),  # junk that normalise drops
    ("K30A-123.45L", "30A12345"),  # junk at both ends
    ("30A-1123.45", "30A12345"),  # the separator read as 1
])
def test_repair_tolerates_junk_and_separators(raw: str, expected: str) -> None:
    assert _best([raw], PlateLayout.ONE_LINE) == expected


def test_repair_layout_penalises_motorbike_on_one_line_plate() -> None:
    one_line = repair(["30A-1123.45"], PlateLayout.ONE_LINE)[0]
    two_line = repair(["30A1", "12345"], PlateLayout.TWO_LINE)[0]
    assert one_line.family is PlateFamily.CAR
    assert (two_line.compact, two_line.family) == ("30A112345", PlateFamily.MOTORBIKE_OLD)


@pytest.mark.parametrize("lines", [[], [""], ["---"], ["HELLO"], ["ABCDEFGHIJKLMNOP"], ["13A12345"]])
def test_repair_returns_nothing_for_hopeless_text(lines: list[str]) -> None:
    assert repair(lines, None) == []


def test_repair_results_are_valid_unique_and_ranked() -> None:
    candidates = repair(["3O-A8", "I23.4S"], PlateLayout.TWO_LINE)
    assert candidates
    texts = [c.compact for c in candidates]
    assert len(texts) == len(set(texts))
    assert all(is_valid(t) for t in texts)
    assert [c.cost for c in candidates] == sorted(c.cost for c in candidates)


# --- properties ----------------------------------------------------------------------------------------------

_province = st.sampled_from(sorted(PROVINCE_CODES))
_letter = st.sampled_from(sorted(CIVILIAN_LETTERS))
_digits5 = st.text(alphabet="0123456789", min_size=5, max_size=5)
_car = st.builds(lambda p, letter, n: f"{p}{letter}{n}", _province, _letter, _digits5)
_moto_new = st.builds(lambda p, a, b, n: f"{p}{a}{b}{n}", _province, _letter, _letter, _digits5)


def _assert_round_trip(compact: str, layouts: tuple[PlateLayout | None, ...]) -> None:
    assert is_valid(compact)
    for layout in layouts:
        lines = format_plate(compact, layout)
        assert normalise("".join(lines)) == compact
        best = repair(list(lines), layout)[0]
        assert best.compact == compact and best.substitutions == 0 and best.deletions == 0


@given(_car)
def test_car_plates_round_trip_through_display_and_repair(compact: str) -> None:
    _assert_round_trip(compact, (PlateLayout.ONE_LINE, PlateLayout.TWO_LINE, None))


@given(_moto_new)
def test_motorbike_plates_round_trip_through_display_and_repair(compact: str) -> None:
    # Motorbike plates are two-line only (DOMAIN §3), so no one-line layout here.
    _assert_round_trip(compact, (PlateLayout.TWO_LINE, None))


_CONFUSION_TO_DIGIT = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}


@given(_car, st.integers(min_value=3, max_value=7))
@settings(max_examples=200)
def test_one_digit_confusion_in_a_car_number_is_repaired(compact: str, index: int) -> None:
    digit = compact[index]
    if digit not in _CONFUSION_TO_DIGIT:
        return
    garbled = compact[:index] + _CONFUSION_TO_DIGIT[digit] + compact[index + 1:]
    assert repair([garbled], PlateLayout.ONE_LINE)[0].compact == compact


@given(st.lists(st.text(max_size=14), max_size=3))
def test_repair_never_fails_and_returns_only_valid_plates(lines: list[str]) -> None:
    for candidate in repair(lines, None):
        assert is_valid(candidate.compact)
        assert candidate.cost >= 0


@given(st.text(max_size=20))
def test_normalise_is_idempotent_and_compact(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert all(ch.isascii() and (ch.isupper() or ch.isdigit()) for ch in once)


def test_only_a_red_or_unknown_background_fits_a_military_plate() -> None:
    from rules.plate_grammar import PlateFamily, family_fits_colour
    from rules.types import PlateColour

    assert family_fits_colour(PlateFamily.MILITARY, PlateColour.RED)
    assert family_fits_colour(PlateFamily.MILITARY, PlateColour.UNCERTAIN)
    assert not any(family_fits_colour(PlateFamily.MILITARY, c)
                   for c in (PlateColour.WHITE, PlateColour.YELLOW, PlateColour.BLUE))
    assert all(family_fits_colour(f, c) for f in PlateFamily if f is not PlateFamily.MILITARY for c in PlateColour)


def test_reads_as_follows_the_slot_of_the_repaired_character() -> None:
    from rules.plate_grammar import reads_as

    assert reads_as("B", "B") and reads_as("8", "B") and reads_as("9", "B")  # letter slot
    assert reads_as("B", "8") and not reads_as("9", "8")  # digit slot: a 9 is a 9
    assert reads_as("0", "D") and reads_as("D", "0") and not reads_as("3", "B")

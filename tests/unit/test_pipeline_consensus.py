"""Multi-frame consensus: majority, per-character recovery, explicit unreadable, colour vote."""

from __future__ import annotations

import pytest

from ocr.plate_reader import ScoredPlateRead
from pipeline.consensus import vote
from rules.types import OcrCandidate, PlateColour, PlateLayout, PlateRead, ReadStatus

MIN_CONF = 0.55


def _read(text: str, conf: float = 0.9, colour: PlateColour = PlateColour.WHITE,
          colour_conf: float = 0.9) -> PlateRead:
    return PlateRead(ReadStatus.READ, text, (text,), PlateLayout.ONE_LINE, colour, conf, colour_conf,
                     (OcrCandidate(text, conf, "fake"),))


def _unreadable(guess: str, reason: str = "glare", colour: PlateColour = PlateColour.UNCERTAIN) -> PlateRead:
    return PlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, 0.0, (OcrCandidate(guess, 0.3, "fake"),),
                     reason)


def test_majority_wins() -> None:
    result = vote([_read("30A12345"), _read("30A12845"), _read("30A12345"), _read("30A12345")], MIN_CONF)
    assert result.status is ReadStatus.READ
    assert result.text == "30A12345"
    assert result.lines == ("30A-123.45",)
    assert MIN_CONF <= result.confidence <= 1.0


def test_per_character_vote_recovers_a_plate_no_single_read_had() -> None:
    reads = [_read("30A19345"), _read("30A12845"), _read("30A12395")]
    assert "30A12345" not in {r.text for r in reads}
    result = vote(reads, MIN_CONF)
    assert result.status is ReadStatus.READ
    assert result.text == "30A12345"


def test_all_unreadable_stays_unreadable_with_candidates_kept() -> None:
    result = vote([_unreadable("30A1234", "glare"), _unreadable("3OA12", "dirt")], MIN_CONF)
    assert result.status is ReadStatus.UNREADABLE
    assert result.text == ""
    assert {c.text for c in result.candidates} == {"30A1234", "3OA12"}
    assert "glare" in result.reason and "dirt" in result.reason


def test_disagreeing_frames_lower_confidence_below_threshold_to_unreadable() -> None:
    reads = [_read("30A12345", 0.7), _read("51G67890", 0.7)]
    result = vote(reads, MIN_CONF)
    assert result.status is ReadStatus.UNREADABLE
    assert {"30A12345", "51G67890"} <= {c.text for c in result.candidates}
    # The same reads, agreeing, are accepted: it is the disagreement that pushed it under.
    assert vote([_read("30A12345", 0.7), _read("30A12345", 0.7)], MIN_CONF).status is ReadStatus.READ


def test_unreadable_frames_count_against_agreement() -> None:
    one_good = vote([_read("30A12345", 0.8)], MIN_CONF)
    diluted = vote([_read("30A12345", 0.8), _unreadable("x"), _unreadable("y")], MIN_CONF)
    assert one_good.status is ReadStatus.READ
    assert diluted.confidence < one_good.confidence


def test_colour_vote_ignores_uncertain_reads() -> None:
    reads = [_read("30A12345", colour=PlateColour.YELLOW, colour_conf=0.8),
             _read("30A12345", colour=PlateColour.UNCERTAIN, colour_conf=0.0),
             _read("30A12345", colour=PlateColour.UNCERTAIN, colour_conf=0.0)]
    result = vote(reads, MIN_CONF)
    assert result.colour is PlateColour.YELLOW
    assert 0.0 < result.colour_confidence < 0.8  # two reads had no opinion: the share is lower


def test_colour_all_uncertain_is_uncertain() -> None:
    reads = [_read("30A12345", colour=PlateColour.UNCERTAIN, colour_conf=0.0)] * 2
    assert vote(reads, MIN_CONF).colour is PlateColour.UNCERTAIN


def test_colour_confident_majority_beats_weak_minority() -> None:
    reads = [_read("30A12345", colour=PlateColour.WHITE, colour_conf=0.9),
             _read("30A12345", colour=PlateColour.WHITE, colour_conf=0.9),
             _read("30A12345", colour=PlateColour.YELLOW, colour_conf=0.6)]
    assert vote(reads, MIN_CONF).colour is PlateColour.WHITE


def test_vote_needs_reads() -> None:
    with pytest.raises(ValueError):
        vote([], MIN_CONF)


def _scored(text: str, char_confs: tuple[float, ...]) -> ScoredPlateRead:
    conf = round(sum(char_confs) / len(char_confs), 4)
    return ScoredPlateRead(ReadStatus.READ, text, (text,), PlateLayout.ONE_LINE, PlateColour.WHITE, conf, 0.9,
                           (OcrCandidate(text, conf, "fake"),), char_confidences=char_confs)


def test_per_character_confidence_outweighs_a_count_majority_of_unsure_characters() -> None:
    sure = (0.95,) * 8
    unsure_at_4 = (0.95, 0.95, 0.95, 0.95, 0.2, 0.95, 0.95, 0.95)
    # Two frames read 8 where the recogniser was unsure; one frame read 2 surely.
    reads = [_scored("30A18345", unsure_at_4), _scored("30A18345", unsure_at_4), _scored("30A12345", sure)]
    result = vote(reads, MIN_CONF)
    assert result.status is ReadStatus.READ
    assert result.text == "30A12345"
    assert isinstance(result, ScoredPlateRead)
    # The disputed position carries the lowest per-character confidence; undisputed ones are sure.
    assert result.char_confidences[4] == min(result.char_confidences) < 1.0
    assert result.char_confidences[0] == 1.0
    # Without per-character confidences the same texts follow the count majority.
    plain = vote([_read("30A18345", 0.87), _read("30A18345", 0.87), _read("30A12345", 0.95)], MIN_CONF)
    assert plain.text == "30A18345"


def test_a_tie_on_one_character_is_not_decided_by_a_coin() -> None:
    result = vote([_scored("30A12345", (0.7,) * 8), _scored("30A12845", (0.7,) * 8)], MIN_CONF)
    assert result.status is ReadStatus.UNREADABLE
    assert {"30A12345", "30A12845"} <= {c.text for c in result.candidates}

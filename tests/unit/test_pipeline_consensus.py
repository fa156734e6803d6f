"""Multi-frame consensus: majority, per-character recovery, explicit unreadable, colour vote."""

from __future__ import annotations

import pytest

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

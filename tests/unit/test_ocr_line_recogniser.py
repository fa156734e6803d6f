"""CTC decoding restricted to plate characters, per-character confidences and runner-up variants."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.line_recogniser import PLATE_CHARSET, RecognisedLine, ctc_decode
from ocr.plate_reader import line_variants

CLASSES = ("", *PLATE_CHARSET)


def _probs(steps: list[dict[str, float]]) -> np.ndarray:
    """(T, C) probabilities; each step names its classes ("" = blank), the rest share what is left."""
    out = np.zeros((len(steps), len(CLASSES)), dtype=np.float32)
    for t, step in enumerate(steps):
        for ch, p in step.items():
            out[t, CLASSES.index(ch)] = p
    return out


def test_repeats_collapse_blanks_separate_and_each_character_keeps_its_peak() -> None:
    probs = _probs([{"3": 0.6, "8": 0.3}, {"3": 0.9}, {"": 0.9}, {"3": 0.8}, {"0": 0.4, "D": 0.35}, {"": 1.0}])
    line = ctc_decode(probs, CLASSES)
    assert line.text == "330"
    assert line.char_confidences == pytest.approx((0.9, 0.8, 0.4))
    # The runner-up is taken at each character's peak step.
    assert line.alternatives[2] == ("D", pytest.approx(0.35))
    assert line.confidence == pytest.approx((0.9 + 0.8 + 0.4) / 3)


def test_empty_output_is_an_empty_line() -> None:
    line = ctc_decode(_probs([{"": 1.0}, {"": 1.0}]), CLASSES)
    assert line.text == "" and line.confidence == 0.0


def test_one_confidence_per_character_is_enforced() -> None:
    with pytest.raises(ValueError):
        RecognisedLine("AB", (0.9,))


def test_unsure_characters_also_try_the_runner_up_and_separators_are_dropped() -> None:
    line = RecognisedLine("29-0A", (0.99, 0.99, 0.9, 0.5, 0.97),
                          (("7", 0.01), ("8", 0.01), (".", 0.05), ("B", 0.45), ("4", 0.02)))
    variants = line_variants(line, below=0.9, limit=2)
    assert [v.text for v in variants] == ["290A", "29BA"]
    assert variants[1].char_confidences[2] == pytest.approx(0.45)
    assert variants[0].confidence > variants[1].confidence


def test_sure_lines_have_a_single_variant() -> None:
    line = RecognisedLine("30A", (0.99, 0.98, 0.97), (("8", 0.01), ("9", 0.01), ("4", 0.01)))
    assert [v.text for v in line_variants(line, below=0.9, limit=2)] == ["30A"]


def test_a_character_spanning_steps_enough_for_two_is_not_sure() -> None:
    """Greedy CTC merges a doubled character (a series `AA`) that no blank step separates into one: read surely,
    that is another plate. A run of steps several times the line's typical span caps its confidence (and its
    classes, which the reader sums over look-alikes) below the reader's per-character gate."""
    from ocr.line_recogniser import DOUBLED_CHAR_CONFIDENCE

    steps = [{"": 1.0}, {"8": 0.99}, {"1": 0.99}, {"": 1.0}, {"-": 0.99}] + [{"A": 0.95}] * 4 + [{"": 1.0}]
    line = ctc_decode(_probs(steps), CLASSES)
    assert line.text == "81-A"
    assert line.char_confidences[:3] == pytest.approx((0.99, 0.99, 0.99))
    assert line.char_confidences[3] == DOUBLED_CHAR_CONFIDENCE
    assert line.top_classes[3] == (("A", DOUBLED_CHAR_CONFIDENCE),)
    # Two steps are one wide character, not two: left as read.
    wide = ctc_decode(_probs(steps[:5] + [{"A": 0.95}] * 2 + [{"": 1.0}]), CLASSES)
    assert wide.char_confidences[3] == pytest.approx(0.95)

"""Two recognisers vote per character: aligned readings average their beliefs, misaligned ones fall back."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ocr.line_fusion import CLASSES, FusedLineRecogniser, FusionSettings, fuse_rows, plate_char_rows

C = len(CLASSES)


def _probs(steps: list[dict[str, float]]) -> npt.NDArray[np.float32]:
    """(T, C) probabilities: each step gives some characters' probabilities, the rest of the mass is blank."""
    out = np.zeros((len(steps), C), np.float32)
    for t, step in enumerate(steps):
        for ch, p in step.items():
            out[t, CLASSES.index(ch)] = p
        out[t, 0] = 1.0 - sum(step.values())
    return out


BLANK: dict[str, float] = {}


def test_rows_are_one_per_plate_character_and_skip_separators() -> None:
    probs = _probs([{"8": 0.9}, {"8": 0.95}, BLANK, {"4": 0.8}, {"-": 0.9}, {"B": 0.6, "D": 0.3}, BLANK, {"1": 0.9}])
    rows = plate_char_rows(probs)
    assert rows.shape == (4, C)
    assert [CLASSES[int(r.argmax())] for r in rows] == ["8", "4", "B", "1"]
    assert rows[0][CLASSES.index("8")] == np.float32(0.95)  # the character's peak step


def test_aligned_readings_average_per_character() -> None:
    paddle = plate_char_rows(_probs([{"8": 0.9}, BLANK, {"4": 0.9}, BLANK, {"D": 0.55, "B": 0.4}, BLANK, {"1": 0.9}]))
    crnn = plate_char_rows(_probs([{"8": 0.8}, BLANK, {"4": 0.9}, BLANK, {"B": 0.9, "D": 0.05}, BLANK, {"1": 0.7}]))
    line = fuse_rows(paddle, crnn, FusionSettings(second_weight=0.5))
    assert line.text == "84B1"
    assert line.char_confidences[2] == round((0.4 + 0.9) / 2, 4)
    assert line.alternatives[2] == ("D", round((0.55 + 0.05) / 2, 4))
    assert line.char_confidences[0] == round((0.9 + 0.8) / 2, 4)


def test_the_second_models_weight_is_a_setting() -> None:
    paddle = plate_char_rows(_probs([{"D": 0.6, "B": 0.3}]))
    crnn = plate_char_rows(_probs([{"B": 0.7, "D": 0.2}]))
    assert fuse_rows(paddle, crnn, FusionSettings(second_weight=0.2)).text == "D"
    assert fuse_rows(paddle, crnn, FusionSettings(second_weight=0.5)).text == "B"


def test_readings_of_different_length_keep_the_primary_reading_capped() -> None:
    paddle = plate_char_rows(_probs([{"8": 0.9}, BLANK, {"4": 0.95}, BLANK, {"B": 0.9}]))
    crnn = plate_char_rows(_probs([{"8": 0.9}, BLANK, {"B": 0.9}]))
    line = fuse_rows(paddle, crnn, FusionSettings(disagreement_cap=0.7))
    assert line.text == "84B"
    assert line.char_confidences == (0.7, 0.7, 0.7)
    assert fuse_rows(paddle, crnn, FusionSettings()).char_confidences == (0.9, 0.95, 0.9)


def test_the_fused_recogniser_batches_both_models() -> None:
    class Fixed:
        def __init__(self, probs: list[npt.NDArray[np.float32]]) -> None:
            self.probs, self.calls = np.stack(probs), 0

        def probabilities(self, lines: object) -> npt.NDArray[np.float32]:
            self.calls += 1
            return self.probs

    a = Fixed([_probs([{"2": 0.9}, BLANK, {"9": 0.6, "8": 0.3}]), _probs([{"1": 0.9}, BLANK, BLANK])])
    b = Fixed([_probs([{"2": 0.9}, BLANK, {"8": 0.9}]), _probs([{"1": 0.9}, BLANK, {"7": 0.9}])])
    lines = FusedLineRecogniser(a, b).recognise([np.zeros((8, 8, 3), np.uint8)] * 2)
    assert [line.text for line in lines] == ["28", "1"]
    assert a.calls == b.calls == 1
    assert FusedLineRecogniser(a, b).recognise([]) == []


def test_only_characters_the_primary_read_unsurely_are_averaged() -> None:
    paddle = plate_char_rows(_probs([{"8": 0.95}, BLANK, {"D": 0.55, "B": 0.4}]))
    crnn = plate_char_rows(_probs([{"B": 0.9}, BLANK, {"B": 0.9, "D": 0.05}]))
    line = fuse_rows(paddle, crnn, FusionSettings(second_weight=0.5, consult_below=0.9))
    assert line.text == "8B"  # the sure 8 is kept although the CRNN saw a B there
    assert line.char_confidences == (0.95, round((0.4 + 0.9) / 2, 4))

"""Two line recognisers, one reading: PP-OCRv4's recogniser and the project's plate CRNN vote per character.

Why two: PP-OCRv4 has seen millions of real text lines but no plate font and little motion blur; the CRNN has seen
only rendered plates, but degraded the way gateway cameras degrade them. Their mistakes differ (on a blurred top
line PP-OCR reads a `B` as `D`, the CRNN does not), so averaging their beliefs is surer than either.

How: each model's greedy CTC reading gives, per character, its class probabilities at the step where that character
peaks. When both read the same number of plate characters (A–Z, 0–9; the printed `-` `.` are dropped), the readings
are aligned position by position and, for each character the primary model read less surely than
`consult_below`, the two probability rows are averaged (a soft vote): the character is the average's best class,
its confidence the average probability, its alternative the runner-up. Characters the primary read surely stay
its own (the second model is a second opinion where the first is unsure, not an equal). When they read a
different number of characters there is nothing to align: the primary model's reading stands, as without fusion,
but its confidences are capped at `disagreement_cap` (two models that disagree on the very length are not sure).

Measured (docs/accuracy.md): better than PP-OCR alone on rendered plates, worse on the real photos — the CRNN has
not learnt enough of real plates from rendered ones to be a useful second opinion yet. The settings were chosen on
rendered plates by `training.sweep_fusion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ocr.line_recogniser import PLATE_CLASSES as CLASSES
from ocr.line_recogniser import ImageBGR, LineModel, RecognisedLine, ctc_peaks, line_from_rows

_ALNUM = np.array([ch.isalnum() for ch in CLASSES])


@dataclass(frozen=True)
class FusionSettings:
    second_weight: float = 0.3  # the second model's share of each averaged probability row
    consult_below: float = 1.01  # only characters the primary model read less surely than this are averaged
    disagreement_cap: float = 1.0  # confidences of a reading the models disagree on in length are capped here


def plate_char_rows(probs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The probability rows (one per plate character read, in order) of one line's (T, classes) probabilities."""
    rows = [probs[t] for idx, t in ctc_peaks(probs) if _ALNUM[idx]]
    return np.stack(rows) if rows else np.zeros((0, probs.shape[1]), np.float32)


def fuse_rows(primary: npt.NDArray[np.float32], second: npt.NDArray[np.float32],
              settings: FusionSettings) -> RecognisedLine:
    """One line from the two models' per-character rows (see the module doc)."""
    if len(primary) == len(second) and len(primary):
        w = settings.second_weight
        sure = primary[:, 1:].max(axis=1) >= settings.consult_below
        fused = np.where(sure[:, None], primary, (1.0 - w) * primary + w * second)
        return line_from_rows(fused, CLASSES)
    line = line_from_rows(primary, CLASSES)
    cap = settings.disagreement_cap
    # The capped line carries no class shares: the reader must not lift a capped character back above the cap.
    return RecognisedLine(line.text, tuple(min(c, cap) for c in line.char_confidences), line.alternatives)


class FusedLineRecogniser:
    """Reads each line with both models (two batches) and fuses them per character."""

    def __init__(self, primary: LineModel, second: LineModel, settings: FusionSettings | None = None) -> None:
        self._primary = primary
        self._second = second
        self.settings = settings or FusionSettings()

    def recognise(self, lines: Sequence[ImageBGR]) -> list[RecognisedLine]:
        if not lines:
            return []
        a = self._primary.probabilities(lines)
        b = self._second.probabilities(lines)
        return [fuse_rows(plate_char_rows(pa), plate_char_rows(pb), self.settings) for pa, pb in zip(a, b, strict=True)]

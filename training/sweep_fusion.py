"""Choose how PP-OCRv4's line recogniser and the plate CRNN are fused, on rendered plates (never the eval photos).

Reads the hard rendered plates of `training.stress_rendered` (same seeded cases) with PP-OCR alone, the CRNN alone
and the fusion at a grid of `FusionSettings`, and prints right / unreadable / wrong for each. Each line image is
recognised once per model and cached, so the grid costs little more than one pass.

    PYTHONPATH=. .venv/bin/python -m training.sweep_fusion --plates 300 --seed 11

Rendered plates are the CRNN's own kind of input (the same generator trained it), so a setting that trusts the CRNN
more looks better here than it will on real photos: prefer the most conservative setting among the best.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pipeline import offline

ImageBGR = npt.NDArray[np.uint8]


class CachedModel:
    """A line model's per-image class probabilities, computed once per distinct image (each image alone)."""

    def __init__(self, model: object) -> None:
        self._model = model
        self._cache: dict[bytes, npt.NDArray[np.float32]] = {}

    def probabilities(self, lines: Sequence[ImageBGR]) -> list[npt.NDArray[np.float32]]:
        out = []
        for line in lines:
            key = hashlib.sha1(line.tobytes() + str(line.shape).encode()).digest()
            if key not in self._cache:
                self._cache[key] = self._model.probabilities([line])[0]  # type: ignore[attr-defined]
            out.append(self._cache[key])
        return out


class SingleModel:
    """One cached model read alone: greedy CTC over its plate classes."""

    def __init__(self, model: CachedModel) -> None:
        self._model = model

    def recognise(self, lines: Sequence[ImageBGR]) -> list[object]:
        from ocr.line_fusion import CLASSES
        from ocr.line_recogniser import ctc_decode

        return [ctc_decode(p, CLASSES) for p in self._model.probabilities(lines)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    offline.apply()
    from ocr.colour import PlateColourClassifier
    from ocr.crnn_recogniser import CrnnLineRecogniser
    from ocr.engines import LineReader, RapidOcrEngine
    from ocr.line_fusion import FusedLineRecogniser, FusionSettings
    from ocr.line_recogniser import PaddleLineRecogniser
    from ocr.plate_reader import PlateReader
    from rules.types import ReadStatus
    from training.stress_rendered import make_cases

    engine = RapidOcrEngine()
    reader = PlateReader(engine, PlateColourClassifier())
    paddle, crnn = CachedModel(PaddleLineRecogniser()), CachedModel(CrnnLineRecogniser())
    cases = make_cases(args.plates, args.seed)
    choices: list[tuple[str, LineReader]] = [("ppocr", SingleModel(paddle)), ("crnn", SingleModel(crnn))]  # type: ignore[list-item]
    for weight, below in itertools.product((0.3, 0.5), (0.7, 0.9, 1.01)):
        settings = FusionSettings(second_weight=weight, consult_below=below)
        choices.append((f"fused w={weight} below={below}", FusedLineRecogniser(paddle, crnn, settings)))  # type: ignore[arg-type]
    for name, lines in choices:
        engine.use_line_reader(lines, name)
        outcomes: Counter[str] = Counter()
        for case in cases:
            read = reader.read(case.image)
            outcomes[("right" if read.text == case.compact else "wrong") if read.status is ReadStatus.READ
                     else "unreadable"] += 1
        print(f"{name:28s} right={outcomes['right']} unreadable={outcomes['unreadable']} wrong={outcomes['wrong']} "
              f"of {len(cases)}", flush=True)


if __name__ == "__main__":
    main()

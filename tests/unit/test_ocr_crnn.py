"""The committed plate CRNN (`ocr/models/plate_crnn.onnx`, trained by `training/train_crnn.py`) reads plate lines.

Rendered plates here are drawn with seeds the training never used; real-photo accuracy is `make eval`'s job.
"""

from __future__ import annotations

import numpy as np
import pytest

from ocr.crnn_recogniser import CLASSES, HEIGHT, WIDTH, CrnnLineRecogniser, crnn_model_path, to_input
from ocr.localise import locate, pad_line, split_two_lines
from sample_videos.plates import Layout, PlateSpec, render_plate


@pytest.fixture(scope="module")
def crnn() -> CrnnLineRecogniser:
    return CrnnLineRecogniser()


def test_the_model_is_committed_small_and_has_the_plate_alphabet(crnn: CrnnLineRecogniser) -> None:
    assert crnn_model_path().stat().st_size < 8 * 1024 * 1024
    probs = crnn.probabilities([np.full((40, 120, 3), 255, np.uint8)])
    assert probs.shape == (1, WIDTH // 4, len(CLASSES))
    assert np.allclose(probs.sum(axis=2), 1.0, atol=1e-4)


@pytest.mark.parametrize("seed", [101, 202])
def test_clean_rendered_plates_are_read_line_by_line(crnn: CrnnLineRecogniser, seed: int) -> None:
    rng = np.random.default_rng(seed)
    right = total = 0
    for _ in range(12):
        serial = f"{int(rng.integers(100000)):05d}"
        spec = (PlateSpec(f"29{'ABCDEFGHKLMN'[int(rng.integers(12))]}1{serial}", Layout.MOTORBIKE) if rng.random() < 0.5
                else PlateSpec(f"30{'ABCDEFGHK'[int(rng.integers(9))]}{serial}", Layout.CAR_ONE_LINE))
        located = locate(render_plate(spec, px_per_mm=300 / spec.size_mm[0]))
        lines = list(split_two_lines(located.image)) if located.two_line else [located.image]
        for read, printed in zip(crnn.recognise([pad_line(i) for i in lines]), spec.display_lines, strict=True):
            total += 1
            right += read.text == printed
    assert right >= 0.9 * total, f"{right}/{total} lines"


def test_input_is_grey_height_32_and_padded() -> None:
    x = to_input(np.full((20, 200, 3), 128, np.uint8))
    assert x.shape == (1, HEIGHT, WIDTH)


def test_a_missing_model_is_a_clear_error(tmp_path: object) -> None:
    from pathlib import Path

    with pytest.raises(FileNotFoundError, match="plate recogniser model missing"):
        CrnnLineRecogniser(model_path=Path(str(tmp_path)) / "absent.onnx")

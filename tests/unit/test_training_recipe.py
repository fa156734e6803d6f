"""The line recogniser's training data: rendered plates cut by the reader's own localisation, labelled per line."""

from __future__ import annotations

import numpy as np

from ocr.crnn_recogniser import HEIGHT, WIDTH, to_input
from ocr.line_recogniser import PLATE_CHARSET
from training.train_crnn import sample_lines


def test_rendered_training_lines_have_model_shape_and_printed_labels() -> None:
    rng = np.random.default_rng(3)
    lines = [line for _ in range(12) for line in sample_lines(rng)]
    assert len(lines) >= 10  # most plates survive augmentation + localisation
    for image, text in lines:
        assert image.shape == (1, HEIGHT, WIDTH) and image.dtype == np.float32
        assert float(image.min()) >= -1.5 and float(image.max()) <= 1.5
        assert text and set(text) <= set(PLATE_CHARSET)


def test_a_narrow_line_is_padded_not_stretched() -> None:
    line = np.full((40, 60, 3), 200, np.uint8)
    line[10:30, 5:55] = 20
    x = to_input(line)
    assert x.shape == (1, HEIGHT, WIDTH)
    assert np.all(x[0, :, 60:] == 0.0)  # 60 px wide at 40 high → 48 px at 32 high; the rest is padding

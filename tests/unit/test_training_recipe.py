"""The line recogniser's training data: rendered plates cut by the reader's own localisation, labelled per line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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


def test_fine_tuning_writes_every_trained_weight_back_into_the_original_onnx(tmp_path: Path) -> None:
    """PP-OCR's recogniser → torch → ONNX again: unchanged weights give the original's outputs (so the runtime can
    load the fine-tuned file as it loads the original), and a changed weight reaches the file."""
    pytest.importorskip("onnx2torch")
    import torch

    from ocr.line_recogniser import cpu_session, rec_model_path
    from training.finetune_ppocr_rec import load_trainable, write_back

    module, names = load_trainable(rec_model_path())
    assert len(names) > 100 and len(set(names.values())) == len(names)  # every weight tensor, each once
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 48, 200)).astype(np.float32)
    original = cpu_session(rec_model_path(), 1)
    expected = original.run(None, {original.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        assert np.abs(module(torch.as_tensor(x)).numpy() - expected).max() < 1e-4  # also at a width not probed
    same = tmp_path / "same.onnx"
    write_back(rec_model_path(), module, names, same)
    rewritten = cpu_session(same, 1)
    assert rewritten.get_modelmeta().custom_metadata_map["character"]  # the runtime's dictionary travels along
    assert np.abs(rewritten.run(None, {"x": x})[0] - expected).max() < 1e-5
    head = next(p for p in module.parameters() if p.ndim == 2 and p.shape[-1] > 6000)
    with torch.no_grad():
        head.mul_(0.0)  # the 6,625-class head: every class equally likely
    changed = tmp_path / "changed.onnx"
    write_back(rec_model_path(), module, names, changed)
    flat = cpu_session(changed, 1).run(None, {"x": x})[0]
    assert np.abs(flat - expected).max() > 0.1

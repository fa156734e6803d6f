"""The project's own compact plate-line recogniser (a CTC CRNN trained on rendered plates), run via onnxruntime.

It is trained by `training/train_crnn.py` on plates the project renders itself, degraded the way gateway cameras
degrade them (motion blur, glare streaks, night noise, low resolution), and it reads only plate characters. Its
input conversion lives here, not in the training script, so that training and inference cannot drift apart.

A measurement tool, not a box's recogniser: on real photos it reads 0.82 of plates exactly against PP-OCRv4's 0.95,
with wrong reads, and fusing the two is worse than PP-OCRv4 alone (docs/accuracy.md). `eval` and `read-plates`
select it with `--line-model`; a box config cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ocr.line_recogniser import PLATE_CLASSES as CLASSES
from ocr.line_recogniser import ImageBGR, RecognisedLine, cpu_session, ctc_decode

HEIGHT, WIDTH = 32, 128
CRNN_MODEL_FILE = "plate_crnn.onnx"


def crnn_model_path() -> Path:
    return Path(__file__).resolve().parent / "models" / CRNN_MODEL_FILE


def to_input(line: ImageBGR) -> npt.NDArray[np.float32]:
    """A line image (BGR or grey) as the model's 1×32×128 input: grey, height 32, width in proportion (squeezed
    only beyond 4:1), zero-padded on the right, contrast stretched per line so day, night and blue plates look
    alike to the model."""
    grey = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
    h, w = grey.shape[:2]
    new_w = max(1, min(WIDTH, round(w * HEIGHT / max(1, h))))
    resized = cv2.resize(grey, (new_w, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR)
    out = np.zeros((1, HEIGHT, WIDTH), np.float32)
    g = resized.astype(np.float32)
    lo, hi = np.percentile(g, 2), np.percentile(g, 98)
    # The 2 % beyond the percentiles are clipped: one glare pixel must not flatten the whole line's contrast.
    out[0, :, :new_w] = np.clip((g - lo) / max(8.0, hi - lo) * 2.0 - 1.0, -1.5, 1.5)
    return out


class CrnnLineRecogniser:
    """Batched plate-line recognition with the project's CRNN; same output as `PaddleLineRecogniser`."""

    def __init__(self, threads: int = 1, model_path: Path | None = None) -> None:
        path = model_path or crnn_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"plate recogniser model missing: {path} (train it: training/train_crnn.py)")
        self._session: Any = cpu_session(path, threads)
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, lines: Sequence[ImageBGR]) -> npt.NDArray[np.float32]:
        """(N, T, classes) per-time-step class probabilities, class 0 the blank then `PLATE_CHARSET`."""
        batch = np.stack([to_input(line) for line in lines])
        probs: npt.NDArray[np.float32] = self._session.run(None, {self._input: batch})[0]
        return probs

    def recognise(self, lines: Sequence[ImageBGR]) -> list[RecognisedLine]:
        if not lines:
            return []
        return [ctc_decode(p, CLASSES) for p in self.probabilities(lines)]

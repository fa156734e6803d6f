"""A crop as another camera would see it: nearer or further (scaled), or turned a few degrees (tilted).

The measurement tools (`eval --loose-crops`, `training.stress_rendered`) use these to ask how the reader fares on
plates 20 to 800 px wide and tilted, from input they already have; the reader itself never calls them.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]


def scaled(image: ImageBGR, factor: float) -> ImageBGR:
    """`image` resized by `factor` (area averaging when shrinking, as a sensor would; cubic when enlarging)."""
    if factor <= 0:
        raise ValueError(f"scale factor must be positive, got {factor}")
    h, w = image.shape[:2]
    size = (max(2, round(w * factor)), max(2, round(h * factor)))
    out: ImageBGR = cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    return out


def tilted(image: ImageBGR, angle_deg: float) -> ImageBGR:
    """`image` turned `angle_deg` about its centre (counter-clockwise positive, as OpenCV), same size, the corners
    filled from the nearest edge pixels (not black: a black wedge is text-like and not what a camera sees)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    out: ImageBGR = cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return out


OCCLUSIONS = ("paint-right", "block", "erase", "cut-right")
_HIDDEN_SHARE = 0.2  # of the plate's width: the right fifth painted over or cut off
_BLOCK_CENTRES = (0.25, 0.35, 0.45, 0.55, 0.65, 0.75)  # where a block is put, as shares of the plate's width


def occluded(image: ImageBGR, plate_box: tuple[float, float, float, float], kind: str, index: int) -> ImageBGR:
    """`image` with part of the plate at `plate_box` (x1, y1, x2, y2 in pixels) hidden, as mud, a bike rack or
    the frame's edge hide it: `paint-right` paints its right fifth grey, `block` puts a dark block the size of one
    character over its (lower) line at a place chosen by `index`, `erase` the same in the plate's own colour (white
    tape over a digit), `cut-right` cuts the image off a fifth short of the plate's right edge. The right outcome
    for such a plate is review, never a shorter plate."""
    if kind not in OCCLUSIONS:
        raise ValueError(f"unknown occlusion {kind!r}: one of {', '.join(OCCLUSIONS)}")
    x1, y1, x2, y2 = plate_box
    pw, ph = x2 - x1, y2 - y1
    hidden_x = round(x2 - _HIDDEN_SHARE * pw)
    if kind == "cut-right":
        cut: ImageBGR = image[:, :max(1, hidden_x)].copy()
        return cut
    out: ImageBGR = image.copy()
    if kind == "paint-right":
        out[max(0, round(y1)):round(y2), max(0, hidden_x):round(x2)] = (128, 128, 128)
        return out
    two_line = pw < 3.0 * ph
    centre = x1 + _BLOCK_CENTRES[index % len(_BLOCK_CENTRES)] * pw
    half_w = (0.085 if two_line else 0.05) * pw
    top, bottom = (y1 + 0.52 * ph, y1 + 0.9 * ph) if two_line else (y1 + 0.12 * ph, y1 + 0.88 * ph)
    rows, cols = slice(max(0, round(top)), round(bottom)), slice(max(0, round(centre - half_w)), round(centre + half_w))
    plate = image[max(0, round(y1)):round(y2), max(0, round(x1)):round(x2)]
    out[rows, cols] = (25, 25, 25) if kind == "block" or plate.size == 0 else _background_colour(plate)
    return out


def _background_colour(plate: ImageBGR) -> tuple[int, int, int]:
    """The plate's own colour: the median of the majority side of Otsu's threshold (white tape on a white
    plate, yellow on a yellow one)."""
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    _, bright = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    side = bright > 0 if (bright > 0).mean() >= 0.5 else bright == 0
    b, g, r = (int(v) for v in np.median(plate[side], axis=0))
    return b, g, r

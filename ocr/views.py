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

"""Plate background colour, calibrated against the light the plate was seen under.

The plain HSV rule called 9 of 19 aged or warm-lit white plates yellow (DESIGN §4), and a false yellow turns a
private car into a commercial one. So: split the plate into characters and background (Otsu), use the characters
— black on white/yellow plates, white on blue/red ones — as the grey reference for the light's colour cast,
correct the background's chroma by it, and decide in CIELAB with margins. Between the margins the answer is
`uncertain`, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from rules.types import PlateColour

ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ColourThresholds:
    """Corrected CIELAB chroma limits (OpenCV 8-bit Lab with the 128 offset removed)."""

    yellow_min_b: float = 24.0  # b* above this on a dark-text plate: yellow (warm-lit white measured 13)
    white_max_chroma: float = 16.0  # chroma below this on a dark-text plate: white
    blue_max_b: float = -14.0  # b* below this on a light-text plate: blue
    red_min_a: float = 22.0  # a* above this on a light-text plate: red
    green_max_a: float = -18.0  # a* below this on a dark- or light-text plate: green (if enabled)
    dark_text_weight: float = 0.6  # dark characters carry only part of the cast (flare, ambient)


@dataclass(frozen=True)
class ColourResult:
    colour: PlateColour
    confidence: float
    background_lab: tuple[float, float, float]
    corrected_ab: tuple[float, float]


class PlateColourClassifier:
    def __init__(self, thresholds: ColourThresholds | None = None, enabled: frozenset[PlateColour] | None = None):
        self.t = thresholds or ColourThresholds()
        self.enabled = enabled or frozenset({PlateColour.WHITE, PlateColour.YELLOW, PlateColour.BLUE, PlateColour.RED})

    def classify(self, crop: ImageBGR) -> ColourResult:
        if crop.size == 0 or min(crop.shape[:2]) < 6:
            return ColourResult(PlateColour.UNCERTAIN, 0.0, (0.0, 0.0, 0.0), (0.0, 0.0))
        scale = 64.0 / crop.shape[0]
        small = cv2.resize(crop, (max(8, int(crop.shape[1] * scale)), 64), interpolation=cv2.INTER_AREA)
        region = _plate_region(small)
        lab = cv2.cvtColor(region, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float64)
        grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
        _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        light = mask.reshape(-1) > 0
        if light.all() or (~light).all():
            return ColourResult(PlateColour.UNCERTAIN, 0.0, (0.0, 0.0, 0.0), (0.0, 0.0))
        # Inside the plate, the background covers more than the characters do.
        background_is_light = light.mean() >= 0.5
        background = lab[light] if background_is_light else lab[~light]
        text = lab[~light] if background_is_light else lab[light]
        bg = np.median(background, axis=0) - np.array([0.0, 128.0, 128.0])
        # Only the darkest (or, on light-text plates, brightest) characters are a clean grey reference: blurred
        # character edges are blended with the background and would remove part of the plate's own colour.
        order = np.argsort(text[:, 0])
        core = order[: max(1, len(order) // 3)] if background_is_light else order[-max(1, len(order) // 3):]
        tx = np.median(text[core], axis=0) - np.array([0.0, 128.0, 128.0])
        weight = self.t.dark_text_weight if background_is_light else 1.0
        a_corr, b_corr = bg[1] - weight * tx[1], bg[2] - weight * tx[2]
        colour, confidence = self._decide(background_is_light, float(a_corr), float(b_corr))
        return ColourResult(colour, confidence, (float(bg[0]), float(bg[1]), float(bg[2])),
                            (float(a_corr), float(b_corr)))

    def _decide(self, dark_text: bool, a: float, b: float) -> tuple[PlateColour, float]:
        t = self.t
        chroma = float(np.hypot(a, b))
        if PlateColour.GREEN in self.enabled and a < t.green_max_a:
            return PlateColour.GREEN, _margin(t.green_max_a - a, 10.0)
        if dark_text:
            if b > t.yellow_min_b:
                return PlateColour.YELLOW, _margin(b - t.yellow_min_b, 12.0)
            if chroma < t.white_max_chroma:
                return PlateColour.WHITE, _margin(t.white_max_chroma - chroma, 8.0)
            return PlateColour.UNCERTAIN, 0.0
        if b < t.blue_max_b:
            return PlateColour.BLUE, _margin(t.blue_max_b - b, 12.0)
        if a > t.red_min_a:
            return PlateColour.RED, _margin(a - t.red_min_a, 12.0)
        return PlateColour.UNCERTAIN, 0.0


def _margin(distance: float, full_at: float) -> float:
    """Confidence grows from 0.5 at the threshold to 1.0 at `full_at` beyond it."""
    return float(min(1.0, 0.5 + 0.5 * distance / full_at))


def _plate_region(small: ImageBGR) -> ImageBGR:
    """The plate inside a loose detector crop: the bounding box of the largest bright blob.

    Detector boxes often include dark vehicle body around the plate, which would outvote the plate's own
    background. Every plate colour has a bright part spanning the plate (a white/yellow background, or the white
    border and characters of blue/red plates); closing merges it into one blob. Falls back to the crop's centre.
    """
    h, w = small.shape[:2]
    centre = small[int(h * 0.12):int(h * 0.88), int(w * 0.06):int(w * 0.94)]
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return centre
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh = (int(v) for v in stats[biggest, :4])
    if bw * bh < 0.2 * w * h or bw < 8 or bh < 8:
        return centre
    # Trim the border line and a little margin so only the plate's face is measured.
    mx, my = max(1, bw // 25), max(1, bh // 10)
    region: ImageBGR = small[y + my:y + bh - my, x + mx:x + bw - mx]
    return region if region.size else centre

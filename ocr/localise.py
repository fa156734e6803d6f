"""Find the plate inside a loose crop, level it, and cut it into its text lines.

Detector boxes are loose and real plates are tilted a few degrees; a recogniser fed a tilted two-line plate
merges or drops characters. Three cheap steps, all on a small grey copy (< 1 ms):

1. **Skew** by projection profile: the rotation that makes the row profile of horizontal edges (absolute
   vertical gradient, so dark-on-light and light-on-dark plates both work) the most contrasted. Character tops
   and bottoms and the plate's border are horizontal at that angle. (On rendered plates tilted ±9° this is
   within 0.5°; the row profile of brightness deviation instead was off by up to 4°.)
2. **Plate box** in the levelled crop: the bounding box of the largest bright blob (every plate colour has a
   bright part spanning the plate: a white/yellow background, or the white border and characters of blue/red
   plates), when it is plausibly a plate; otherwise the whole crop.
3. **Lines**: a plate narrower than 3:1 holds two lines (DOMAIN §3 aspects 4.7 vs 2.0 and 1.36); it is cut at the
   row band near the middle with the least ink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]
ONE_LINE_MIN_ASPECT = 3.0
_WORK_HEIGHT_PX = 64
_MAX_SKEW_DEG = 12.0
_SIDE_MARGIN = 0.5  # × line height added left and right of a plate's text region
_PLATE_TEXT_SHARE = 0.6  # a plate's lines are at least this share of the tallest text's height in its crop
_LOOSE_CANDIDATES = 4  # bright blobs tried, largest first, when the largest does not fill the crop


@dataclass(frozen=True)
class LocatedPlate:
    """The levelled, tightened plate image, the rotation applied (degrees, counter-clockwise) and whether a plate
    blob was found (False: `image` is the levelled whole crop)."""

    image: ImageBGR
    skew_deg: float
    tight: bool

    @property
    def two_line(self) -> bool:
        h, w = self.image.shape[:2]
        return w < ONE_LINE_MIN_ASPECT * h


def _horizontal_edges(grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    edges: npt.NDArray[np.float32] = np.abs(cv2.Sobel(grey.astype(np.float32), cv2.CV_32F, 0, 1, ksize=3))
    return edges


def _ink(grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    g = grey.astype(np.float32)
    ink: npt.NDArray[np.float32] = np.abs(g - np.median(g, axis=1, keepdims=True))
    return ink


_Img = TypeVar("_Img", npt.NDArray[np.uint8], npt.NDArray[np.float32])


def _rotate(image: _Img, angle_deg: float, border: int) -> _Img:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
    rotated: _Img = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
    return rotated


def _profile_score(edges: npt.NDArray[np.float32], angle_deg: float) -> float:
    rotated = _rotate(edges, angle_deg, cv2.BORDER_CONSTANT)
    w = rotated.shape[1]
    # Only the central columns: rotating moves empty corners into the edge columns.
    rows = rotated[:, w // 6: w - w // 6].mean(axis=1)
    return float(np.var(rows))


def estimate_skew_deg(grey: npt.NDArray[np.uint8]) -> float:
    """The rotation (degrees, counter-clockwise positive as in OpenCV) that levels the text: coarse 1.5° search
    then a 0.5° refinement. 0 for images too small to tell."""
    if min(grey.shape[:2]) < 12:
        return 0.0
    edges = _horizontal_edges(grey)
    coarse = np.arange(-_MAX_SKEW_DEG, _MAX_SKEW_DEG + 0.01, 1.5)
    best = max(coarse, key=lambda a: _profile_score(edges, float(a)))
    fine = (best - 1.0, best - 0.5, best, best + 0.5, best + 1.0)
    angle = float(max(fine, key=lambda a: _profile_score(edges, float(a))))
    # Tiny angles are noise from the profile; leave the pixels alone.
    return angle if abs(angle) >= 1.0 else 0.0


def _plate_box(grey: npt.NDArray[np.uint8]) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the largest bright blob in the levelled crop, if it looks like a plate."""
    h, w = grey.shape[:2]
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = max(3, h // 12)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    by_area = sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    x, y, bw, bh = (int(v) for v in stats[by_area[0], :4])
    if bw * bh >= 0.35 * w * h and 1.0 <= bw / max(1, bh) <= 6.0 and bh >= 0.4 * h:
        return x, y, bw, bh  # the plate fills most of the crop (a detector's box)
    # A loose crop: the plate is a smaller part of it (a hand-cut crop, a generous box). Without this the whole
    # crop was read as the plate, and a one-line plate in a square crop as two lines: sure wrong reads.
    # Opening cuts the thin bridges that join a plate to a sticker or a lamp next to it.
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    for i in sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))[:_LOOSE_CANDIDATES]:
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        fill = int(stats[i, cv2.CC_STAT_AREA]) / max(1, bw * bh)
        borders = (x == 0) + (y == 0) + (x + bw >= w) + (y + bh >= h)
        if (bw * bh >= 0.06 * w * h and 1.0 <= bw / max(1, bh) <= 6.0 and bh >= 0.15 * h and fill >= 0.6
                and borders <= 1):
            return x, y, bw, bh
    return None


def locate(crop: ImageBGR) -> LocatedPlate:
    """Level the crop and cut it to the plate (with a small margin so edge characters stay whole)."""
    h, w = crop.shape[:2]
    if min(h, w) < 8:
        return LocatedPlate(crop, 0.0, False)
    scale = _WORK_HEIGHT_PX / h
    small = cv2.resize(crop, (max(8, round(w * scale)), _WORK_HEIGHT_PX), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    angle = estimate_skew_deg(grey)
    if angle:
        # Corners rotated in are black for the blob search (replicated plate edges would widen the blob) but
        # replicated for the recogniser (no hard black wedge next to edge characters).
        grey = _rotate(grey, angle, cv2.BORDER_CONSTANT)
        crop = _rotate(crop, angle, cv2.BORDER_REPLICATE)
    box = _plate_box(grey)
    if box is None:
        return LocatedPlate(crop, angle, False)
    x, y, bw, bh = (v / scale for v in box)
    mx, my = 0.03 * bw, 0.05 * bh
    x1, y1 = max(0, round(x - mx)), max(0, round(y - my))
    x2, y2 = min(w, round(x + bw + mx)), min(h, round(y + bh + my))
    plate: ImageBGR = crop[y1:y2, x1:x2]
    return LocatedPlate(plate, angle, True) if plate.size else LocatedPlate(crop, angle, False)


def split_two_lines(plate: ImageBGR) -> tuple[ImageBGR, ImageBGR]:
    """Cut a two-line plate between its lines: the row band near the middle with the least ink."""
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    h = grey.shape[0]
    ink = _ink(grey).mean(axis=1)
    lo, hi = int(h * 0.35), max(int(h * 0.65), int(h * 0.35) + 1)
    cut = lo + int(np.argmin(ink[lo:hi]))
    return plate[:cut], plate[cut:]


def pad_line(line: ImageBGR) -> ImageBGR:
    """A line cut with a replicated border, so the recogniser sees its first and last characters whole."""
    h = line.shape[0]
    padded: ImageBGR = cv2.copyMakeBorder(line, max(2, h // 12), max(2, h // 12), max(3, h // 8), max(3, h // 8),
                                          cv2.BORDER_REPLICATE)
    return padded



Region = tuple[float, float, float, float]  # x1, y1, x2, y2 in crop pixels


@dataclass(frozen=True)
class TextRegion:
    """Where the text detector found a line of text: its upright bounding box and the line's own height (the
    short side of its tilted box — less than the bounding box's height when the line is tilted)."""

    x1: float
    y1: float
    x2: float
    y2: float
    line_height: float

    @classmethod
    def from_quad(cls, points: npt.ArrayLike) -> TextRegion:
        quad = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
        return cls(float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()),
                   float(quad[:, 1].max()), float(sides.min()))

    def scaled(self, factor: float) -> TextRegion:
        return TextRegion(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor,
                          self.line_height * factor)


def _joins(a: TextRegion, b: TextRegion) -> bool:
    """Two text lines belong to one plate when they are its two lines (stacked, overlapping horizontally, at most
    about a line apart) or pieces of one line (side by side, at most about a character apart)."""
    line_h = max(1.0, min(a.line_height, b.line_height))
    h_overlap = min(a.x2, b.x2) - max(a.x1, b.x1)
    v_overlap = min(a.y2, b.y2) - max(a.y1, b.y1)
    narrower = max(1.0, min(a.x2 - a.x1, b.x2 - b.x1))
    # Lines of one plate have about the same height: a sticker's small print under a plate is not its line.
    similar = max(a.line_height, b.line_height) <= 2.0 * line_h
    stacked = h_overlap >= 0.5 * narrower and -v_overlap <= 0.6 * line_h
    side_by_side = v_overlap >= 0.5 * line_h and -h_overlap <= 1.0 * line_h
    return similar and (stacked or side_by_side)


def plate_regions(lines: list[TextRegion], width: int, height: int) -> list[Region]:
    """Where plates may be in a loose crop, from the text detector's lines: lines joined into groups
    (`_joins`), each group's union widened by half a line's height at the sides (the detector's boxes already
    reach a little past the glyphs; first and last characters are not cut) and clipped to the crop. No margin is
    added above and below: rows of car body there make the recogniser's line shorter and denser than its text,
    and repeated characters (`22`, `88`) then merge (on rendered hand-cut crops, `training.stress_rendered
    --hand-cut`: 0.96 right and no wrong read without, 0.94 and 0.013 wrong with a quarter line each side).
    Text lines less than 0.6 as high as the tallest group's are dropped and the rest come largest first: the
    plate is the biggest text on a vehicle's rear; a dealer's sticker or a badge is smaller."""
    groups: list[list[TextRegion]] = []
    for line in lines:
        touching = [g for g in groups if any(_joins(line, other) for other in g)]
        groups = [g for g in groups if g not in touching] + [[line] + [b for g in touching for b in g]]
    tallest = max((min(b.line_height for b in g) for g in groups), default=0.0)
    regions = []
    for group in groups:
        line_h = min(b.line_height for b in group)
        if line_h < _PLATE_TEXT_SHARE * tallest:
            continue  # print much smaller than the largest text: a dealer's sticker, a badge, not a plate
        mx = _SIDE_MARGIN * line_h
        regions.append((max(0.0, min(b.x1 for b in group) - mx), max(0.0, min(b.y1 for b in group)),
                        min(float(width), max(b.x2 for b in group) + mx), min(float(height), max(b.y2 for b in group))))
    return sorted(regions, key=lambda r: -(r[2] - r[0]) * (r[3] - r[1]))

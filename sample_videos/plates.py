"""Render Vietnamese registration plates (Circular 79/2024 layouts) as BGR numpy images.

Geometry is specified in millimetres on the physical plate and rasterised at ``px_per_mm``:
long car plate 520x110 mm (one line), short car plate 330x165 mm (two lines), motorbike plate
190x140 mm (two lines). Characters are drawn one by one into fixed-size cells, stretched from a
bold condensed sans face, which gives the tall, evenly pitched look of the real plate font.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

BgrImage = npt.NDArray[np.uint8]

FONT_DIR = Path(__file__).resolve().parent / "fonts"
VENDORED_FONT = FONT_DIR / "DejaVuSansCondensed-Bold-subset.ttf"
SYSTEM_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf")
_GLYPH_RENDER_PX = 160  # font size used to rasterise one glyph before it is stretched into its cell


class Layout(str, Enum):
    """Physical plate format."""

    CAR_ONE_LINE = "car_one_line"  # 520 x 110 mm
    CAR_TWO_LINE = "car_two_line"  # 330 x 165 mm
    MOTORBIKE = "motorbike"  # 190 x 140 mm, always two lines

    @property
    def lines(self) -> int:
        return 1 if self is Layout.CAR_ONE_LINE else 2


class PlateColour(str, Enum):
    WHITE = "white"
    YELLOW = "yellow"
    BLUE = "blue"
    RED = "red"


# (background, ink) in BGR; slightly off-pure so that the colour is not a trivially perfect value.
_COLOURS: dict[PlateColour, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    PlateColour.WHITE: ((236, 240, 242), (22, 22, 24)),
    PlateColour.YELLOW: ((32, 196, 246), (20, 20, 22)),
    PlateColour.BLUE: ((150, 72, 22), (245, 245, 245)),
    PlateColour.RED: ((36, 38, 196), (245, 245, 245)),
}


@dataclass(frozen=True)
class _Geometry:
    width_mm: float
    height_mm: float
    char_h_mm: float  # cap height of a character
    char_w_mm: float  # width of a letter/digit cell
    gap_mm: float  # space between cells
    line_gap_mm: float  # vertical gap between the two lines


_GEOMETRY: dict[Layout, _Geometry] = {
    Layout.CAR_ONE_LINE: _Geometry(520, 110, 76, 44, 5, 0),
    Layout.CAR_TWO_LINE: _Geometry(330, 165, 62, 40, 5, 12),
    Layout.MOTORBIKE: _Geometry(190, 140, 52, 25, 3.5, 10),
}

_COMPACT_RE = re.compile(r"^[0-9]{2}[A-Z][A-Z0-9]?[0-9]{4,5}$")


@dataclass(frozen=True)
class PlateSpec:
    """What is written on a plate: compact text (A-Z0-9 only), physical layout and colour."""

    compact: str
    layout: Layout
    colour: PlateColour = PlateColour.WHITE

    def __post_init__(self) -> None:
        if not _COMPACT_RE.match(self.compact):
            raise ValueError(f"not a compact Vietnamese plate: {self.compact!r}")
        display_lines(self.compact, self.layout)  # raises when the text does not fit the layout

    @property
    def display_lines(self) -> tuple[str, ...]:
        return display_lines(self.compact, self.layout)

    @property
    def size_mm(self) -> tuple[float, float]:
        g = _GEOMETRY[self.layout]
        return g.width_mm, g.height_mm

    @property
    def aspect(self) -> float:
        g = _GEOMETRY[self.layout]
        return g.width_mm / g.height_mm


def _format_serial(digits: str) -> str:
    """5-digit serials are printed ``123.45``; 4-digit legacy serials as ``1234``."""
    return f"{digits[:3]}.{digits[3:]}" if len(digits) == 5 else digits


def display_lines(compact: str, layout: Layout) -> tuple[str, ...]:
    """The printed lines of a plate, e.g. ``30A12345`` one-line -> ``("30A-123.45",)``.

    Cars: ``PP L`` + serial. Motorbikes: ``PP-LL`` (new series) or ``PP-LD`` (old series) over the serial.
    """
    series_re = "[A-Z][A-Z0-9]" if layout is Layout.MOTORBIKE else "[A-Z]{1,2}"
    m = re.match(rf"^([0-9]{{2}})({series_re})([0-9]{{4,5}})$", compact)
    if m is None:
        raise ValueError(f"not a compact Vietnamese plate: {compact!r}")
    province, series, serial = m.groups()
    if layout is Layout.MOTORBIKE:
        return (f"{province}-{series}", _format_serial(serial))
    if layout is Layout.CAR_TWO_LINE:
        return (f"{province}{series}", _format_serial(serial))
    return (f"{province}{series}-{_format_serial(serial)}",)


@lru_cache(maxsize=8)
def _font(size: int, path: Path | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in (path, VENDORED_FONT, SYSTEM_FONT):
        if candidate is not None and candidate.is_file():
            return ImageFont.truetype(str(candidate), size)
    # Last resort (a checkout without the fonts folder): Pillow's built-in scalable font.
    return ImageFont.load_default(size)


@dataclass(frozen=True)
class PlateFace:
    """The character face: a font file (None: the vendored one), whether its `1` loses its foot serif (the
    Vietnamese plate `1` is a bare stem with a flag; most sans faces draw a foot), how many pixels of the
    160 px glyph raster its strokes lose on each side (`thin_px`: real plates' glyphs are thinner than a bold
    face's) and what share of its cell a character fills across (`width_share`: real plates leave more space)."""

    font_path: Path | None = None
    footless_one: bool = False
    thin_px: int = 0
    width_share: float = 1.0


def _without_foot(mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A `1` without its foot: below the middle, only the stem's columns (those inked at half height) keep ink."""
    h = mask.shape[0]
    stem = np.nonzero(mask[h // 2] > 127)[0]
    if len(stem) == 0:
        return mask
    out = mask.copy()
    bottom = slice(int(h * 0.6), h)
    out[bottom, : stem.min()] = 0
    out[bottom, stem.max() + 1 :] = 0
    return out  # same box: the stem keeps its place in the cell rather than being stretched across it


@lru_cache(maxsize=512)
def _glyph_mask(char: str, face: PlateFace = PlateFace()) -> npt.NDArray[np.uint8]:
    """Tight ink mask (0..255) of one character at the glyph render size."""
    font = _font(_GLYPH_RENDER_PX, face.font_path)
    canvas = Image.new("L", (_GLYPH_RENDER_PX * 2, _GLYPH_RENDER_PX * 2), 0)
    ImageDraw.Draw(canvas).text((_GLYPH_RENDER_PX // 2, _GLYPH_RENDER_PX // 4), char, fill=255, font=font)
    arr = np.asarray(canvas, dtype=np.uint8)
    ys, xs = np.nonzero(arr > 0)
    if len(xs) == 0:
        return np.zeros((1, 1), dtype=np.uint8)
    tight = np.ascontiguousarray(arr[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    if face.thin_px > 0 and char not in "-.":
        eroded = Image.fromarray(tight).filter(ImageFilter.MinFilter(2 * face.thin_px + 1))
        tight = np.asarray(eroded, dtype=np.uint8)
    return _without_foot(tight) if char == "1" and face.footless_one else tight


def _cell_width_mm(char: str, g: _Geometry) -> float:
    if char == "-":
        return g.char_w_mm * 0.55
    if char == ".":
        return g.char_w_mm * 0.32
    return g.char_w_mm


def _draw_line(mask: npt.NDArray[np.float32], text: str, g: _Geometry, cy_mm: float, px_per_mm: float,
               face: PlateFace) -> None:
    """Stretch each glyph into its cell and add it to ``mask`` (float 0..1), line centred at ``cy_mm``."""
    widths = [_cell_width_mm(c, g) for c in text]
    total = sum(widths) + g.gap_mm * (len(text) - 1)
    x_mm = (g.width_mm - total) / 2
    for char, w_mm in zip(text, widths, strict=True):
        glyph = Image.fromarray(_glyph_mask(char, face))
        if char == "-":
            cell_w, cell_h, top_mm = w_mm, g.char_h_mm * 0.11, cy_mm - g.char_h_mm * 0.06
        elif char == ".":
            cell_w, cell_h, top_mm = w_mm * 0.8, w_mm * 0.8, cy_mm + g.char_h_mm / 2 - w_mm * 0.8
        else:
            cell_w, cell_h, top_mm = w_mm * face.width_share, g.char_h_mm, cy_mm - g.char_h_mm / 2
        wpx, hpx = max(1, round(cell_w * px_per_mm)), max(1, round(cell_h * px_per_mm))
        stretched = np.asarray(glyph.resize((wpx, hpx), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
        x0 = round((x_mm + (w_mm - cell_w) / 2) * px_per_mm)
        y0 = round(top_mm * px_per_mm)
        region = mask[y0 : y0 + hpx, x0 : x0 + wpx]
        np.maximum(region, stretched[: region.shape[0], : region.shape[1]], out=region)
        x_mm += w_mm + g.gap_mm


def _rounded_rect_mask(h: int, w: int, inset: float, thickness: float, radius: float) -> npt.NDArray[np.float32]:
    """Anti-aliased mask of a rounded rectangle outline (values 0..1), via 4x supersampling."""
    ss = 4
    img = Image.new("L", (w * ss, h * ss), 0)
    box = (inset * ss, inset * ss, (w - inset) * ss - 1, (h - inset) * ss - 1)
    ImageDraw.Draw(img).rounded_rectangle(box, radius=radius * ss, outline=255, width=max(1, round(thickness * ss)))
    img = img.resize((w, h), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


def render_plate(spec: PlateSpec, px_per_mm: float = 2.0, face: PlateFace = PlateFace()) -> BgrImage:
    """Render ``spec`` flat and clean at ``px_per_mm``; returns an HxWx3 uint8 BGR image. ``face``: the character
    face (training data varies it; the demo clips use the vendored one)."""
    g = _GEOMETRY[spec.layout]
    w, h = round(g.width_mm * px_per_mm), round(g.height_mm * px_per_mm)
    ink_mask: npt.NDArray[np.float32] = np.zeros((h, w), dtype=np.float32)
    lines = spec.display_lines
    if len(lines) == 1:
        _draw_line(ink_mask, lines[0], g, g.height_mm / 2, px_per_mm, face)
    else:
        block = 2 * g.char_h_mm + g.line_gap_mm
        top = (g.height_mm - block) / 2
        _draw_line(ink_mask, lines[0], g, top + g.char_h_mm / 2, px_per_mm, face)
        _draw_line(ink_mask, lines[1], g, top + g.char_h_mm * 1.5 + g.line_gap_mm, px_per_mm, face)
    border = _rounded_rect_mask(h, w, inset=2.5 * px_per_mm, thickness=3.0 * px_per_mm, radius=6 * px_per_mm)
    ink_mask = np.maximum(ink_mask, border).astype(np.float32)
    bg, ink = _COLOURS[spec.colour]
    bg_arr = np.array(bg, dtype=np.float32)
    ink_arr = np.array(ink, dtype=np.float32)
    # A faint vertical sheen, as on a real reflective plate.
    shade = np.linspace(1.02, 0.93, h, dtype=np.float32)[:, None, None]
    out = bg_arr * shade * (1.0 - ink_mask[..., None]) + ink_arr * ink_mask[..., None]
    plate: BgrImage = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return plate


def obscure_plate(plate: BgrImage, seed: int) -> BgrImage:
    """Make a plate unreadable the way real ones are: a glare hot-spot plus mud splashes."""
    rng = np.random.default_rng(seed)
    h, w = plate.shape[:2]
    out = plate.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Mud: many overlapping brown blobs, mostly over the characters' middle band.
    mud = np.zeros((h, w), dtype=np.float32)
    for _ in range(60):
        cx, cy = rng.uniform(0.05, 0.95) * w, rng.uniform(0.2, 0.85) * h
        r = rng.uniform(0.04, 0.12) * min(w, h * 2)
        mud = np.maximum(mud, np.clip(1.0 - ((xx - cx) ** 2 + (yy - cy) ** 2) / r**2, 0, 1) ** 0.5)
    out = out * (1 - 0.9 * mud[..., None]) + np.array([40, 70, 95], np.float32) * 0.9 * mud[..., None]
    # Glare: a bright saturated ellipse covering half of the plate.
    cx, cy = rng.uniform(0.45, 0.65) * w, rng.uniform(0.35, 0.6) * h
    glare = np.exp(-(((xx - cx) / (0.32 * w)) ** 2 + ((yy - cy) / (0.6 * h)) ** 2))
    out = out + 330.0 * glare[..., None]
    obscured: BgrImage = np.clip(out, 0, 255).astype(np.uint8)
    return obscured

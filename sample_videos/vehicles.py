"""Procedural vehicle sprites seen head-on by a gateway camera (front when approaching, rear when leaving).

A sprite is drawn in millimetre coordinates (origin at the ground, centre of the vehicle; y up) at
``px_per_mm`` and returned with an alpha channel and the plate's corner points in sprite pixels.
Real motorbikes carry only a rear plate, so a motorbike sprite is always a rear view.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
import numpy.typing as npt

from sample_videos.plates import BgrImage

FloatArray = npt.NDArray[np.float32]
Colour = tuple[int, int, int]


class VehicleClass(str, Enum):
    CAR = "car"
    MOTORCYCLE = "motorcycle"
    TRUCK = "truck"
    BUS = "bus"


class View(str, Enum):
    FRONT = "front"
    REAR = "rear"


@dataclass(frozen=True)
class Sprite:
    bgra: npt.NDArray[np.uint8]  # H x W x 4
    plate_quad_px: FloatArray  # 4 x 2 corners (tl, tr, br, bl) in sprite pixels
    px_per_mm: float

    @property
    def size_mm(self) -> tuple[float, float]:
        h, w = self.bgra.shape[:2]
        return w / self.px_per_mm, h / self.px_per_mm


@dataclass(frozen=True)
class _Body:
    width_mm: float
    height_mm: float
    plate_centre_y_mm: float  # plate centre height above the ground


_BODIES: dict[tuple[VehicleClass, View], _Body] = {
    (VehicleClass.CAR, View.FRONT): _Body(1780, 1480, 390),
    (VehicleClass.CAR, View.REAR): _Body(1780, 1480, 620),
    (VehicleClass.TRUCK, View.FRONT): _Body(2050, 2300, 480),
    (VehicleClass.TRUCK, View.REAR): _Body(2050, 2300, 560),
    (VehicleClass.BUS, View.FRONT): _Body(2450, 3000, 470),
    (VehicleClass.BUS, View.REAR): _Body(2450, 3000, 560),
    (VehicleClass.MOTORCYCLE, View.REAR): _Body(760, 1700, 640),
}


class _Canvas:
    """BGRA drawing surface with mm coordinates (x from the centre line, y up from the ground)."""

    def __init__(self, width_mm: float, height_mm: float, px_per_mm: float) -> None:
        self.ppm = px_per_mm
        self.w_mm, self.h_mm = width_mm, height_mm
        self.img = np.zeros((round(height_mm * px_per_mm), round(width_mm * px_per_mm), 4), dtype=np.uint8)

    def pt(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        return ((x_mm + self.w_mm / 2) * self.ppm, (self.h_mm - y_mm) * self.ppm)

    def poly(self, pts_mm: list[tuple[float, float]], colour: Colour) -> None:
        pts = np.array([self.pt(x, y) for x, y in pts_mm], dtype=np.float64)
        cv2.fillPoly(self.img, [np.round(pts * 16).astype(np.int32)], (*colour, 255), cv2.LINE_AA, shift=4)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: Colour) -> None:
        c = self.pt(cx, cy)
        axes = (round(rx * self.ppm * 16), round(ry * self.ppm * 16))
        cv2.ellipse(self.img, (round(c[0] * 16), round(c[1] * 16)), axes, 0, 0, 360, (*colour, 255), -1,
                    cv2.LINE_AA, shift=4)

    def shade_vertical(self, y0_mm: float, y1_mm: float, top_gain: float, bottom_gain: float) -> None:
        """Multiply the colour of rows between two heights by a linear gain (simple lighting)."""
        r0, r1 = round(self.pt(0, y1_mm)[1]), round(self.pt(0, y0_mm)[1])
        r0, r1 = max(r0, 0), min(r1, self.img.shape[0])
        if r1 <= r0:
            return
        gain = np.linspace(top_gain, bottom_gain, r1 - r0, dtype=np.float32)[:, None, None]
        band = self.img[r0:r1, :, :3].astype(np.float32) * gain
        self.img[r0:r1, :, :3] = np.clip(band, 0, 255).astype(np.uint8)


def _scaled(colour: Colour, k: float) -> Colour:
    b, g, r = (min(255, round(c * k)) for c in colour)
    return (b, g, r)


def _car(c: _Canvas, view: View, paint: Colour, body: _Body) -> None:
    w = body.width_mm / 2
    tyre = (28, 28, 30)
    for sx in (-1, 1):
        c.rect(sx * (w - 60), 0, sx * (w - 300), 520, tyre)
    c.poly([(-w, 260), (w, 260), (w, 820), (w - 40, 930), (-w + 40, 930), (-w, 820)], paint)  # lower body
    c.poly([(-w + 120, 900), (w - 120, 900), (w - 330, 1440), (-w + 330, 1440)], paint)  # cabin
    c.poly([(-w + 200, 940), (w - 200, 940), (w - 370, 1390), (-w + 370, 1390)], (52, 46, 44))  # glass
    c.poly([(-w + 240, 1000), (-w + 520, 1000), (-w + 640, 1360), (-w + 420, 1360)], (98, 92, 88))  # reflection
    c.shade_vertical(940, 1390, 1.25, 0.7)
    c.rect(-w + 10, 240, w - 10, 420, _scaled(paint, 0.55))  # bumper
    c.shade_vertical(260, 930, 1.15, 0.75)
    if view is View.FRONT:
        c.rect(-420, 480, 420, 700, (38, 38, 40))  # grille
        for y in range(510, 700, 45):
            c.rect(-400, y, 400, y + 14, (70, 70, 74))
        for sx in (-1, 1):
            c.poly([(sx * (w - 60), 640), (sx * (w - 420), 660), (sx * (w - 440), 780), (sx * (w - 70), 790)],
                   (215, 225, 230))
            c.ellipse(sx * (w - 75), 1010, 110, 60, _scaled(paint, 0.8))  # mirrors
    else:
        for sx in (-1, 1):
            c.poly([(sx * (w - 20), 700), (sx * (w - 360), 710), (sx * (w - 340), 860), (sx * (w - 40), 860)],
                   (30, 30, 190))
        c.rect(-w + 380, 820, w - 380, 850, _scaled(paint, 0.7))  # tailgate crease


def _truck(c: _Canvas, view: View, paint: Colour, body: _Body) -> None:
    w = body.width_mm / 2
    tyre = (26, 26, 28)
    for sx in (-1, 1):
        c.rect(sx * (w - 40), 0, sx * (w - 420), 560, tyre)
    if view is View.REAR:
        c.rect(-w, 420, w, 2300, (200, 205, 210))  # cargo box
        c.rect(-15, 500, 15, 2260, (120, 120, 125))  # door split
        for sx in (-1, 1):
            c.rect(sx * 420, 1100, sx * 470, 1700, (90, 90, 95))  # handles
        c.shade_vertical(420, 2300, 1.1, 0.8)
        c.rect(-w, 300, w, 460, (40, 40, 44))  # under-run bar
        for sx in (-1, 1):
            c.rect(sx * (w - 30), 470, sx * (w - 300), 620, (30, 30, 200))
    else:
        c.rect(-w + 60, 1900, w - 60, 2300, (200, 205, 210))  # box above the cab
        c.poly([(-w, 300), (w, 300), (w - 40, 1950), (-w + 40, 1950)], paint)  # cab
        c.poly([(-w + 150, 1200), (w - 150, 1200), (w - 180, 1850), (-w + 180, 1850)], (50, 45, 42))
        c.shade_vertical(1200, 1850, 1.25, 0.7)
        c.rect(-600, 650, 600, 1000, (40, 40, 42))  # grille
        for sx in (-1, 1):
            c.rect(sx * (w - 80), 700, sx * (w - 400), 880, (215, 225, 230))
        c.rect(-w, 300, w, 470, (50, 50, 54))
        c.shade_vertical(300, 1950, 1.1, 0.8)


def _motorcycle(c: _Canvas, paint: Colour, rider: Colour) -> None:
    c.ellipse(0, 300, 65, 300, (24, 24, 26))  # rear tyre
    c.poly([(-170, 560), (170, 560), (210, 860), (-210, 860)], paint)  # tail / rear fender
    c.rect(-90, 860, 90, 910, (30, 30, 190))  # tail light
    c.shade_vertical(560, 900, 1.15, 0.8)
    for sx in (-1, 1):  # legs
        c.poly([(sx * 90, 860), (sx * 250, 880), (sx * 270, 620), (sx * 200, 600)], _scaled(rider, 0.6))
        c.poly([(sx * 200, 600), (sx * 280, 600), (sx * 290, 520), (sx * 190, 520)], (35, 35, 35))  # shoes
    c.poly([(-250, 880), (250, 880), (270, 1380), (-270, 1380)], rider)  # torso
    c.shade_vertical(880, 1380, 1.1, 0.75)
    for sx in (-1, 1):  # arms and mirrors
        c.poly([(sx * 230, 1350), (sx * 300, 1330), (sx * 370, 1080), (sx * 300, 1070)], _scaled(rider, 0.85))
        c.rect(sx * 300, 1060, sx * 380, 1120, (30, 30, 30))
        c.ellipse(sx * 330, 1290, 45, 55, (30, 30, 32))
    c.ellipse(0, 1420, 95, 60, (150, 130, 120))  # neck
    c.ellipse(0, 1540, 150, 150, (60, 60, 200) if rider[2] < 128 else (240, 240, 240))  # helmet


def draw_vehicle(vclass: VehicleClass, view: View, plate: BgrImage, plate_w_mm: float, paint: Colour,
                 px_per_mm: float, rider: Colour = (90, 60, 40)) -> Sprite:
    """Draw a vehicle sprite and paste ``plate`` (rendered at any resolution, ``plate_w_mm`` wide) onto it."""
    if vclass is VehicleClass.MOTORCYCLE and view is View.FRONT:
        raise ValueError("motorbikes carry only a rear plate; draw them from the rear")
    body = _BODIES[(vclass, view)]
    c = _Canvas(body.width_mm + 40, body.height_mm + 20, px_per_mm)
    if vclass is VehicleClass.CAR:
        _car(c, view, paint, body)
    elif vclass is VehicleClass.MOTORCYCLE:
        _motorcycle(c, paint, rider)
    else:
        _truck(c, view, paint, body)
    plate_h_mm = plate_w_mm * plate.shape[0] / plate.shape[1]
    x0, y0 = c.pt(-plate_w_mm / 2, body.plate_centre_y_mm + plate_h_mm / 2)
    x1, y1 = c.pt(plate_w_mm / 2, body.plate_centre_y_mm - plate_h_mm / 2)
    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    src = np.array([[0, 0], [plate.shape[1], 0], [plate.shape[1], plate.shape[0]], [0, plate.shape[0]]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    size = (c.img.shape[1], c.img.shape[0])
    warped = cv2.warpPerspective(plate, m, size, flags=cv2.INTER_AREA)
    alpha = cv2.warpPerspective(np.full(plate.shape[:2], 255, np.uint8), m, size, flags=cv2.INTER_AREA)
    a = alpha.astype(np.float32)[..., None] / 255.0
    c.img[..., :3] = np.round(c.img[..., :3] * (1 - a) + warped * a).astype(np.uint8)
    c.img[..., 3] = np.maximum(c.img[..., 3], alpha)
    return Sprite(c.img, quad, px_per_mm)

"""Gateway scene: a pinhole camera over a flat road, the static background, and sprite compositing.

Ground point at lateral offset X and distance Z (mm) projects to x = cx + X*f/Z, y = y_h + H*f/Z, where
H is the camera height and y_h the horizon row; an object at distance Z is drawn at scale f/Z px/mm.
Vehicles are treated as flat cut-outs facing the camera (their front or rear), which is what a gateway
camera looking along the lane mostly sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sample_videos.plates import BgrImage

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Camera:
    width_px: int = 1280
    height_px: int = 720
    focal_px: float = 1400.0
    mount_height_mm: float = 3000.0
    bottom_scale_px_per_mm: float = 0.45  # image scale of the ground at the bottom row

    @property
    def horizon_y(self) -> float:
        return self.height_px - self.mount_height_mm * self.bottom_scale_px_per_mm

    def scale(self, z_mm: float) -> float:
        return self.focal_px / z_mm

    def project(self, x_mm: float, height_mm: float, z_mm: float) -> tuple[float, float]:
        s = self.scale(z_mm)
        return self.width_px / 2 + x_mm * s, self.horizon_y + (self.mount_height_mm - height_mm) * s

    def ground_z(self, y_px: float) -> float:
        """Distance of the ground point seen at image row ``y_px`` (below the horizon)."""
        return self.focal_px * self.mount_height_mm / (y_px - self.horizon_y)


def _ground_quad(cam: Camera, x0: float, x1: float, z0: float, z1: float) -> npt.NDArray[np.int32]:
    pts = [cam.project(x0, 0, z0), cam.project(x1, 0, z0), cam.project(x1, 0, z1), cam.project(x0, 0, z1)]
    return np.round(np.array(pts) * 16).astype(np.int32)


def render_background(cam: Camera, seed: int, line_y_px: int) -> BgrImage:
    """Asphalt with low-frequency stains and grain, lane markings, kerbs and a painted gateway line."""
    rng = np.random.default_rng(seed)
    h, w = cam.height_px, cam.width_px
    stains = cv2.resize(rng.normal(0, 1, (9, 16)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
    base = 96.0 + 7.0 * stains + 9.0 * grain
    img = np.repeat(base[..., None], 3, axis=2) * np.array([1.0, 1.01, 1.03], dtype=np.float32)
    img_u8: BgrImage = np.clip(img, 0, 255).astype(np.uint8)
    z_far, z_near = 60000.0, cam.focal_px * cam.mount_height_mm / 50.0
    for side in (-1, 1):  # kerb and pavement beyond the lanes
        cv2.fillPoly(img_u8, [_ground_quad(cam, side * 3300, side * 9000, z_near, z_far)], (150, 152, 150),
                     cv2.LINE_AA, shift=4)
        cv2.fillPoly(img_u8, [_ground_quad(cam, side * 3150, side * 3300, z_near, z_far)], (185, 188, 186),
                     cv2.LINE_AA, shift=4)
        cv2.fillPoly(img_u8, [_ground_quad(cam, side * 2900, side * 3020, z_near, z_far)], (215, 218, 218),
                     cv2.LINE_AA, shift=4)
    z = 1500.0
    while z < z_far:  # dashed centre line, 3 m dash / 3 m gap
        cv2.fillPoly(img_u8, [_ground_quad(cam, -60, 60, z, z + 3000)], (205, 210, 212), cv2.LINE_AA, shift=4)
        z += 6000
    z_line = cam.ground_z(line_y_px)
    cv2.fillPoly(img_u8, [_ground_quad(cam, -2900, 2900, z_line - 150, z_line + 150)], (200, 205, 208),
                 cv2.LINE_AA, shift=4)
    return img_u8


def motion_blur(img: npt.NDArray[np.uint8], length_px: float) -> npt.NDArray[np.uint8]:
    """Vertical box blur of ``length_px`` (vehicles move along the image's vertical axis)."""
    n = round(length_px)
    if n < 2:
        return img
    kernel = np.full((n, 1), 1.0 / n, dtype=np.float32)
    blurred: npt.NDArray[np.uint8] = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return blurred


def sprite_homography(sprite_hw: tuple[int, int], sprite_ppm: float, scale: float, anchor_xy: tuple[float, float],
                      roll_deg: float, yaw: float) -> FloatArray:
    """Map sprite pixels to frame pixels: scale to ``scale`` px/mm, bottom centre to ``anchor_xy``,
    a small roll, and a keystone ``yaw`` (fractional height difference between the left and right edges)."""
    h, w = sprite_hw
    k = scale / sprite_ppm
    cx, by = w / 2.0, float(h)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = np.array([[(x - cx) * k, (y - by) * k] for x, y in src.tolist()], dtype=np.float64)
    dst[[0, 3], 1] *= 1 - yaw / 2  # left edge shorter/taller than the right edge
    dst[[1, 2], 1] *= 1 + yaw / 2
    a = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = dst @ rot.T + np.array(anchor_xy)
    return np.asarray(cv2.getPerspectiveTransform(src, dst.astype(np.float32)), dtype=np.float64)


def transform_points(m: FloatArray, pts: npt.NDArray[np.float32]) -> FloatArray:
    ph = np.hstack([pts.astype(np.float64), np.ones((len(pts), 1))]) @ m.T
    return np.asarray(ph[:, :2] / ph[:, 2:3], dtype=np.float64)


def composite(frame: npt.NDArray[np.float32], bgra: npt.NDArray[np.uint8], m: FloatArray,
              gain: float) -> npt.NDArray[np.float32]:
    """Blend a warped sprite into ``frame`` (float BGR, in place); returns the warped alpha (0..1).

    Sprites are premultiplied (transparent pixels are black), so resizing, blurring and warping them
    keeps their edges clean."""
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(bgra, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a: npt.NDArray[np.float32] = warped[..., 3].astype(np.float32) / 255.0
    frame *= 1 - a[..., None]
    frame += warped[..., :3].astype(np.float32) * gain
    return a


def draw_shadow(frame: npt.NDArray[np.float32], cam: Camera, x_mm: float, z_mm: float, width_mm: float) -> None:
    """Soft dark patch on the road under a vehicle."""
    cx, cy = cam.project(x_mm, 0, z_mm)
    s = cam.scale(z_mm)
    mask = np.zeros(frame.shape[:2], dtype=np.float32)
    axes = (max(1, round(width_mm * 0.55 * s)), max(1, round(width_mm * 0.12 * s)))
    cv2.ellipse(mask, (round(cx), round(cy - axes[1] * 0.6)), axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, width_mm * 0.05 * s))
    frame *= 1 - 0.55 * mask[..., None]


def plate_on_car_rear(plate: BgrImage, margin: float, seed: int, body_grey: float = 190.0) -> BgrImage:
    """A hand-cut crop of a car's rear: the plate in a thin dark frame with `margin` × its size of car body on
    each side (brightness `body_grey`, a little shaded top to bottom), a bumper crease under it and a dealer's
    sticker with its own text in a corner. On a silver or white car the body touches the plate's frame, so the
    largest bright blob in the crop is the car, not the plate (what read-plates met on real crops)."""
    rng = np.random.default_rng(seed)
    h, w = plate.shape[:2]
    my, mx = max(4, int(h * margin)), max(4, int(w * margin))
    rows = np.linspace(body_grey + 15, body_grey - 20, h + 2 * my)[:, None, None]
    canvas = np.clip(rows + rng.normal(0, 4, (h + 2 * my, w + 2 * mx, 3)), 0, 255).astype(np.uint8)
    crease = my + h + my // 3
    canvas[crease: crease + max(2, h // 20)] = 90
    sticker_h, sticker_w = max(12, h // 4), max(40, w // 3)
    sy, sx = canvas.shape[0] - sticker_h - 2, int(rng.integers(2, max(3, canvas.shape[1] - sticker_w - 2)))
    canvas[sy:sy + sticker_h, sx:sx + sticker_w] = (40, 40, 200)
    dealer = ("TOYOTA 0912", "HONDA", "HUNDAI 24H", "KIA 1900")[int(rng.integers(4))]
    cv2.putText(canvas, dealer, (sx + 2, sy + sticker_h - 3), cv2.FONT_HERSHEY_SIMPLEX, sticker_h / 40,
                (255, 255, 255), 1, cv2.LINE_AA)
    framed = cv2.copyMakeBorder(plate, 3, 3, 3, 3, cv2.BORDER_CONSTANT, value=(50, 50, 50))
    oy = int(np.clip(my - 3 + rng.integers(-my // 3, my // 3 + 1), 0, canvas.shape[0] - framed.shape[0]))
    ox = int(np.clip(mx - 3 + rng.integers(-mx // 3, mx // 3 + 1), 0, canvas.shape[1] - framed.shape[1]))
    canvas[oy:oy + framed.shape[0], ox:ox + framed.shape[1]] = framed
    return canvas

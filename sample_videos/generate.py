"""Make the committed sample clips and their ground truth.

    python -m sample_videos.generate --out sample_videos/

Everything is deterministic: fixed seeds, no wall-clock input. See README.md for what each clip holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sample_videos.clips import BENCH_CLIPS, CLIPS, ClipSpec, VehicleSpec
from sample_videos.plates import BgrImage, obscure_plate, render_plate
from sample_videos.scene import (
    composite,
    draw_shadow,
    motion_blur,
    render_background,
    sprite_homography,
    transform_points,
)
from sample_videos.vehicles import Sprite, View, draw_vehicle

SPRITE_PX_PER_MM = 0.6
EXPOSURE_FRACTION = 0.12  # shutter open time / frame interval: sets the motion-blur length
MIN_Z_MM = 600.0


@dataclass
class _Actor:
    spec: VehicleSpec
    sprite: Sprite
    approaching: bool  # moving towards the camera (we see its front), i.e. downwards in the image
    z_start_mm: float
    z_end_mm: float


@dataclass
class FrameObject:
    """Where one vehicle is in one frame (all pixel boxes clipped to the frame)."""

    vehicle_xyxy: list[int]
    vehicle_centre_y: float  # of the unclipped projected vehicle box
    plate_xyxy: list[int] | None
    plate_width_px: float
    plate_visible: bool  # entirely inside the frame and at most 10 % hidden by nearer vehicles


@dataclass
class RenderedFrame:
    image: BgrImage
    objects: dict[str, FrameObject] = field(default_factory=dict)


def _view(clip: ClipSpec, spec: VehicleSpec) -> tuple[View, bool]:
    approaching = (spec.direction == "entry") == clip.entry_moves_down
    return (View.FRONT if approaching else View.REAR), approaching


def _make_actor(clip: ClipSpec, spec: VehicleSpec) -> _Actor:
    view, approaching = _view(clip, spec)
    plate = render_plate(spec.plate, px_per_mm=4.0)
    if not spec.readable:
        plate = obscure_plate(plate, seed=clip.seed + spec.start_frame)
    sprite = draw_vehicle(spec.vclass, view, plate, spec.plate.size_mm[0], spec.paint, SPRITE_PX_PER_MM, spec.rider)
    cam = clip.camera
    _, h_mm = sprite.size_mm
    z_far = cam.ground_z(-5.0) + 300.0  # bottom edge just above the frame
    # Near end: the top of the vehicle has left the bottom of the frame.
    overhead = cam.mount_height_mm - h_mm
    z_near = max(MIN_Z_MM, cam.focal_px * overhead / (cam.height_px + 5 - cam.horizon_y)) if overhead > 0 else MIN_Z_MM
    start, end = (z_far, z_near) if approaching else (z_near, z_far)
    return _Actor(spec, sprite, approaching, start, end)


def _z_at(actor: _Actor, frame: int, fps: float) -> float | None:
    t = (frame - actor.spec.start_frame) / fps
    if t < 0:
        return None
    step = actor.spec.speed_mm_s * t
    z = actor.z_start_mm - step if actor.approaching else actor.z_start_mm + step
    lo, hi = sorted((actor.z_start_mm, actor.z_end_mm))
    return z if lo <= z <= hi else None


def _bbox(alpha: np.ndarray[Any, Any]) -> list[int] | None:
    ys, xs = np.nonzero(alpha > 0.2)
    if len(xs) == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def render_frame(clip: ClipSpec, actors: list[_Actor], background: BgrImage, index: int) -> RenderedFrame:
    cam = clip.camera
    rng = np.random.default_rng([clip.seed, index])
    light = 1.0 + 0.06 * np.sin(2 * np.pi * index / max(clip.n_frames, 1) * 1.3 + clip.seed)
    frame = background.astype(np.float32) * light
    placed: list[tuple[_Actor, float, np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
    live = [(z, a) for a in actors if (z := _z_at(a, index, clip.fps)) is not None]
    for z, actor in sorted(live, key=lambda za: -za[0]):  # far vehicles first
        s = cam.scale(z)
        k = s / actor.sprite.px_per_mm
        interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
        small = cv2.resize(actor.sprite.bgra, None, fx=k, fy=k, interpolation=interp)
        dy_px = cam.mount_height_mm * actor.spec.speed_mm_s / clip.fps * s * s / cam.focal_px
        small = motion_blur(small, EXPOSURE_FRACTION * dy_px)
        anchor = cam.project(actor.spec.lane_x_mm, 0.0, z)
        m = sprite_homography((small.shape[0], small.shape[1]), s, s, anchor, actor.spec.roll_deg, actor.spec.yaw)
        draw_shadow(frame, cam, actor.spec.lane_x_mm, z, actor.sprite.size_mm[0])
        alpha = composite(frame, small, m, light * actor.spec.light_gain)
        sh, sw = small.shape[:2]
        corners = transform_points(m, np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32))
        plate = transform_points(m, actor.sprite.plate_quad_px * np.float32(k))
        placed.append((actor, float(corners[:, 1].mean()), alpha, plate))
    frame += rng.normal(0.0, 2.5, frame.shape).astype(np.float32)
    image = cv2.GaussianBlur(np.clip(frame, 0, 255).astype(np.uint8), (0, 0), 0.6)
    out = RenderedFrame(image)
    for i, (actor, centre_y, alpha, plate) in enumerate(placed):
        vbox = _bbox(alpha)
        if vbox is None:
            continue
        pmask = np.zeros(alpha.shape, np.uint8)
        cv2.fillPoly(pmask, [np.round(plate).astype(np.int32)], 1)
        area = float(pmask.sum())
        hidden = sum(float((alpha_n[pmask > 0] > 0.5).sum()) for _, _, alpha_n, _ in placed[i + 1 :])
        x0, y0 = plate.min(axis=0)
        x1, y1 = plate.max(axis=0)
        inside = x0 >= 0 and y0 >= 0 and x1 <= cam.width_px and y1 <= cam.height_px
        pbox = None
        if x1 > 0 and y1 > 0 and x0 < cam.width_px and y0 < cam.height_px:
            pbox = [max(0, round(x0)), max(0, round(y0)), min(cam.width_px, round(x1)), min(cam.height_px, round(y1))]
        visible = bool(inside and area > 0 and hidden / area <= 0.1)
        out.objects[actor.spec.key] = FrameObject(vbox, centre_y, pbox, float(x1 - x0), visible)
    return out


def render_clip(clip: ClipSpec, n_frames: int | None = None) -> Iterator[RenderedFrame]:
    background = render_background(clip.camera, clip.seed, clip.line_y_px)
    actors = [_make_actor(clip, v) for v in clip.vehicles]
    for index in range(clip.n_frames if n_frames is None else n_frames):
        yield render_frame(clip, actors, background, index)


def _vehicle_truth(clip: ClipSpec, spec: VehicleSpec, frames: list[RenderedFrame]) -> dict[str, Any]:
    track = [(i, f.objects[spec.key]) for i, f in enumerate(frames) if spec.key in f.objects]
    side0 = track[0][1].vehicle_centre_y < clip.line_y_px if track else False
    cross = next((i for i, o in track if (o.vehicle_centre_y < clip.line_y_px) != side0), None)
    plate_frames = [i for i, o in track if o.plate_visible]
    view, _ = _view(clip, spec)
    return {
        "id": spec.key,
        "plate_compact": spec.plate.compact,
        "plate_display_lines": list(spec.plate.display_lines),
        "layout": "one_line" if spec.plate.layout.lines == 1 else "two_line",
        "plate_format": spec.plate.layout.value,
        "plate_colour": spec.plate.colour.value,
        "vehicle_class": spec.vclass.value,
        "direction": spec.direction,
        "view": view.value,
        "readable": spec.readable,
        "first_frame": track[0][0] if track else None,
        "last_frame": track[-1][0] if track else None,
        "line_cross_frame": cross,
        "plate_first_frame": plate_frames[0] if plate_frames else None,
        "plate_last_frame": plate_frames[-1] if plate_frames else None,
        "max_plate_width_px": round(max((o.plate_width_px for i, o in track if o.plate_visible), default=0.0), 1),
        "track": [{"frame": i, "vehicle_xyxy": o.vehicle_xyxy, "plate_xyxy": o.plate_xyxy,
                   "plate_width_px": round(o.plate_width_px, 1), "plate_visible": o.plate_visible} for i, o in track],
    }


def frame_digest(image: BgrImage) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def write_clip(clip: ClipSpec, out_dir: Path) -> dict[str, Any]:
    """Render ``clip`` to ``<out_dir>/<name>.mp4`` and ``<name>.truth.json``; returns the truth."""
    cam = clip.camera
    video_path = out_dir / f"{clip.name}.mp4"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter.fourcc(*"mp4v"), clip.fps, (cam.width_px, cam.height_px))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {video_path} with the mp4v codec")
    frames: list[RenderedFrame] = []
    for rendered in render_clip(clip):
        writer.write(rendered.image)
        frames.append(RenderedFrame(np.zeros((0, 0, 3), np.uint8), rendered.objects))  # keep truth, drop pixels
    writer.release()
    cap = cv2.VideoCapture(str(video_path))
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    cap.release()
    if decoded != clip.n_frames:
        raise RuntimeError(f"{video_path}: wrote {clip.n_frames} frames, decoded {decoded}")
    truth: dict[str, Any] = {
        "clip": {
            "file": video_path.name, "codec": "mp4v", "fps": clip.fps, "width": cam.width_px, "height": cam.height_px,
            "frame_count": clip.n_frames, "duration_s": round(clip.n_frames / clip.fps, 3), "seed": clip.seed,
            "entry_line_y_px": clip.line_y_px,
            "entry_motion": "top_to_bottom" if clip.entry_moves_down else "bottom_to_top",
            "description": clip.description,
        },
        "conventions": {
            "frame_index": "0-based decode order; time of frame i = i / fps seconds from the clip start",
            "line_cross_frame": "first frame where the vehicle box centre is on the far side of entry_line_y_px",
            "plate_visible": "plate wholly inside the frame and at most 10% hidden by a nearer vehicle",
            "boxes": "xyxy pixels, clipped to the frame",
        },
        "vehicles": [_vehicle_truth(clip, v, frames) for v in clip.vehicles],
    }
    (out_dir / f"{clip.name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--clip", action="append", choices=[c.name for c in CLIPS + BENCH_CLIPS],
                        help="only these clips (benchmark clips are made only when named)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for clip in CLIPS + BENCH_CLIPS:
        if (args.clip and clip.name not in args.clip) or (not args.clip and clip in BENCH_CLIPS):
            continue
        truth = write_clip(clip, args.out)
        size = (args.out / truth["clip"]["file"]).stat().st_size
        print(f"{clip.name}: {clip.n_frames} frames, {len(clip.vehicles)} vehicles, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

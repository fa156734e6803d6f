"""The committed clips, as data. Change a clip here, then regenerate (see README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from sample_videos.plates import Layout, PlateColour, PlateSpec
from sample_videos.scene import Camera
from sample_videos.vehicles import Colour, VehicleClass

Direction = Literal["entry", "exit"]


@dataclass(frozen=True)
class VehicleSpec:
    key: str
    plate: PlateSpec
    vclass: VehicleClass
    direction: Direction
    start_frame: int
    lane_x_mm: float  # lateral offset of the vehicle's centre from the camera axis
    speed_mm_s: float
    paint: Colour
    readable: bool = True
    roll_deg: float = 0.0
    yaw: float = 0.0  # keystone: fractional height difference between the left and right edges
    light_gain: float = 1.0
    rider: Colour = (90, 60, 40)


@dataclass(frozen=True)
class ClipSpec:
    name: str
    description: str
    seed: int
    n_frames: int
    vehicles: tuple[VehicleSpec, ...]
    fps: float = 12.5
    camera: Camera = field(default_factory=Camera)
    entry_moves_down: bool = True  # entering vehicles move top -> bottom in the image
    line_y_px: int = 360


def _p(compact: str, layout: Layout, colour: PlateColour = PlateColour.WHITE) -> PlateSpec:
    return PlateSpec(compact, layout, colour)


DEMO = ClipSpec(
    name="demo_gateway",
    description="Front-facing gateway camera: entering vehicles approach (top->bottom, front plate); "
    "leaving vehicles recede (bottom->top, rear plate).",
    seed=20240815,
    n_frames=150,
    vehicles=(
        VehicleSpec("car_white_1line", _p("30A12345", Layout.CAR_ONE_LINE), VehicleClass.CAR, "entry",
                    0, -800, 2300, (60, 60, 170), roll_deg=-1.5, yaw=0.03),
        VehicleSpec("motorbike_white_aa", _p("29AA12345", Layout.MOTORBIKE), VehicleClass.MOTORCYCLE, "exit",
                    8, 700, 2000, (45, 45, 48), roll_deg=2.0, rider=(110, 70, 30)),
        VehicleSpec("car_white_2line", _p("30K56789", Layout.CAR_TWO_LINE), VehicleClass.CAR, "entry",
                    38, -750, 2200, (185, 185, 190), roll_deg=1.0, yaw=-0.04, light_gain=0.95),
        VehicleSpec("truck_yellow", _p("29H45678", Layout.CAR_ONE_LINE, PlateColour.YELLOW), VehicleClass.TRUCK,
                    "exit", 58, 950, 2100, (200, 200, 200), roll_deg=-1.0, yaw=0.02),
        VehicleSpec("car_blue_state", _p("80A01234", Layout.CAR_ONE_LINE, PlateColour.BLUE), VehicleClass.CAR,
                    "entry", 76, -850, 2400, (30, 30, 34), roll_deg=0.8, yaw=0.05, light_gain=1.05),
        VehicleSpec("car_unreadable", _p("30E88816", Layout.CAR_ONE_LINE), VehicleClass.CAR, "entry",
                    112, -780, 2400, (150, 110, 40), readable=False, roll_deg=-0.5),
    ),
)

MOTORBIKES = ClipSpec(
    name="two_line_motorbikes",
    description="Rear-facing gateway camera on a motorbike lane: entering motorbikes recede "
    "(bottom->top, rear plate); one car leaves towards the camera (top->bottom, front plate).",
    seed=20230815,
    n_frames=110,
    camera=Camera(bottom_scale_px_per_mm=0.7, focal_px=1800.0),
    entry_moves_down=False,
    vehicles=(
        VehicleSpec("moto_new_ab", _p("29AB67890", Layout.MOTORBIKE), VehicleClass.MOTORCYCLE, "entry",
                    0, -350, 1800, (40, 40, 44), roll_deg=-2.0, rider=(60, 60, 60)),
        VehicleSpec("moto_old_b1", _p("29B112345", Layout.MOTORBIKE), VehicleClass.MOTORCYCLE, "entry",
                    22, 380, 1700, (170, 170, 175), roll_deg=1.5, rider=(140, 90, 40)),
        VehicleSpec("moto_old_f1_4digit", _p("31F15417", Layout.MOTORBIKE), VehicleClass.MOTORCYCLE, "entry",
                    46, -300, 1900, (30, 40, 150), roll_deg=2.5, rider=(40, 40, 40)),
        VehicleSpec("car_exit_2line", _p("30G24680", Layout.CAR_TWO_LINE), VehicleClass.CAR, "exit",
                    60, 900, 2000, (120, 120, 125), yaw=0.03),
        VehicleSpec("moto_new_kt", _p("29KT03579", Layout.MOTORBIKE), VehicleClass.MOTORCYCLE, "entry",
                    70, 250, 1800, (200, 200, 205), roll_deg=-1.0, rider=(30, 90, 160)),
    ),
)

CLIPS: tuple[ClipSpec, ...] = (DEMO, MOTORBIKES)


# -- benchmark clips: generated at bench time into out/ (too big to commit), never used by the golden tests --------

FULL_HD = Camera(width_px=1920, height_px=1080, focal_px=2100.0, bottom_scale_px_per_mm=0.675)  # 720p scene x1.5

_CAR, _MOTO, _TRUCK = VehicleClass.CAR, VehicleClass.MOTORCYCLE, VehicleClass.TRUCK
_ONE, _TWO, _BIKE = Layout.CAR_ONE_LINE, Layout.CAR_TWO_LINE, Layout.MOTORBIKE
_Y, _B = PlateColour.YELLOW, PlateColour.BLUE


def _lane(direction: Direction, lane_x_mm: float, rows: tuple[tuple[int, str, Layout, PlateColour, VehicleClass,
                                                                       float, Colour], ...]) -> tuple[VehicleSpec, ...]:
    """One lane's traffic: (start frame, plate, layout, colour, class, speed mm/s, paint) per vehicle."""
    out = []
    for i, (start, plate, layout, colour, vclass, speed, paint) in enumerate(rows):
        roll = ((i * 7) % 5 - 2) * 0.8  # a little variety, deterministic
        out.append(VehicleSpec(f"{direction}_{lane_x_mm:+.0f}_{i:02d}", _p(plate, layout, colour), vclass, direction,
                               start, lane_x_mm + ((i * 37) % 9 - 4) * 25.0, speed, paint, roll_deg=roll,
                               yaw=((i * 3) % 5 - 2) * 0.015, light_gain=1.0 + ((i * 11) % 5 - 2) * 0.03,
                               rider=(90 + 20 * (i % 3), 60, 40 + 30 * (i % 4))))
    return tuple(out)


_W = PlateColour.WHITE
BENCH_1080P = ClipSpec(
    name="bench_1080p25",
    description="Benchmark: busy front-facing gateway, 1920x1080 at 25 fps, 10 s, 14 vehicles in three lanes "
    "(cars and trucks both ways, motorbikes leaving; up to 6 in view at once), one-line, two-line and motorbike "
    "plates, white/yellow/blue, two unreadable plates.",
    seed=20261204,
    n_frames=250,
    fps=25.0,
    camera=FULL_HD,
    line_y_px=540,
    vehicles=(
        *_lane("entry", -1500, (
            (0, "30A12345", _ONE, _W, _CAR, 2300, (60, 60, 170)),
            (45, "30K56789", _TWO, _W, _CAR, 2200, (185, 185, 190)),
            (90, "80A01234", _ONE, _B, _CAR, 2400, (30, 30, 34)),
            (135, "30E88816", _ONE, _W, _CAR, 2300, (150, 110, 40)),
            (180, "29D90817", _ONE, _Y, _CAR, 2500, (170, 170, 60)),
        )),
        *_lane("exit", 1550, (
            (15, "29H45678", _ONE, _Y, _TRUCK, 2100, (200, 200, 200)),
            (65, "30M45566", _TWO, _W, _CAR, 2200, (200, 200, 205)),
            (115, "29K78899", _ONE, _W, _CAR, 2400, (50, 50, 55)),
            (165, "30B55501", _ONE, _W, _CAR, 2600, (140, 40, 120)),
        )),
        *_lane("exit", 250, (
            (5, "29AA12345", _BIKE, _W, _MOTO, 2000, (45, 45, 48)),
            (50, "29B112345", _BIKE, _W, _MOTO, 1900, (170, 170, 175)),
            (95, "31F15417", _BIKE, _W, _MOTO, 2100, (30, 40, 150)),
            (140, "29KT03579", _BIKE, _W, _MOTO, 1800, (200, 200, 205)),
            (185, "30X198765", _BIKE, _W, _MOTO, 2200, (60, 100, 60)),
        )),
    ),
)
UNREADABLE_IN_BENCH = frozenset({"entry_-1500_03", "exit_+250_03"})  # glare + mud: must come out "unreadable"
BENCH_1080P = replace(BENCH_1080P, vehicles=tuple(replace(v, readable=v.key not in UNREADABLE_IN_BENCH)
                                                  for v in BENCH_1080P.vehicles))

BENCH_CLIPS: tuple[ClipSpec, ...] = (BENCH_1080P,)

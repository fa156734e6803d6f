"""The committed clips, as data. Change a clip here, then regenerate (see README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
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

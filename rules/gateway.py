"""Direction of travel at a gateway: did a track cross the entry line into the zone, out of it, or neither?

Image coordinates: x to the right, y down. The line's "inside" side is named as seen on screen by someone standing
on the first point looking towards the second (see `EntryLine`).

Debouncing is a dead band of `min_travel_px` on each side of the line: a point counts as inside or outside only
when it is at least that far from the line, so a box centre jittering on the line changes nothing. The verdict is
the *net* crossing: the first decided side versus the last decided side. In → out → in is an entry; a track that
wanders back and forth and ends where it started is UNKNOWN (no passage to decide on). The track's path must also
cut the drawn segment, so traffic passing beyond the line's ends is not counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import IntEnum
from typing import Literal

from shapely.geometry import LineString

from rules.config import GatewayConfig
from rules.types import Direction

PixelPoint = tuple[float, float]
Side = Literal["left", "right"]


class _Zone(IntEnum):
    OUTSIDE = -1
    BAND = 0
    INSIDE = 1


def signed_distance_px(point: PixelPoint, line: tuple[PixelPoint, PixelPoint], inside_side: Side) -> float:
    """Perpendicular distance of `point` from the infinite line, positive on the inside side."""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    length = math.hypot(dx, dy)
    if length == 0.0:
        raise ValueError("the line needs two distinct points")
    # With y pointing down, a positive cross product puts the point on the right of a→b as seen on screen.
    right = (dx * (point[1] - ay) - dy * (point[0] - ax)) / length
    return right if inside_side == "right" else -right


def crossing_direction(
    points: Sequence[PixelPoint],
    line: tuple[PixelPoint, PixelPoint],
    inside_side: Side,
    min_travel_px: float = 20.0,
) -> Direction:
    """ENTRY, EXIT or UNKNOWN from a track's centre points in time order (see the module doc for the rules)."""
    if min_travel_px < 0:
        raise ValueError("min_travel_px must be >= 0")
    if len(points) < 2:
        return Direction.UNKNOWN
    first: _Zone | None = None
    last: _Zone | None = None
    for point in points:
        zone = _classify(signed_distance_px(point, line, inside_side), min_travel_px)
        if zone is _Zone.BAND:
            continue
        first = zone if first is None else first
        last = zone
    if first is None or first is last:
        return Direction.UNKNOWN
    if not LineString(points).intersects(LineString(line)):
        return Direction.UNKNOWN
    return Direction.ENTRY if last is _Zone.INSIDE else Direction.EXIT


def _classify(distance: float, band: float) -> _Zone:
    # A zero-width band still needs a strict side: a point exactly on the line decides nothing.
    if distance > 0 and distance >= band:
        return _Zone.INSIDE
    if distance < 0 and -distance >= band:
        return _Zone.OUTSIDE
    return _Zone.BAND


def gateway_direction(points: Sequence[PixelPoint], gateway: GatewayConfig) -> Direction:
    """`crossing_direction` with the gateway's configured line, inside side and dead band."""
    line = gateway.entry_line
    return crossing_direction(points, line.points, line.inside_side, line.min_travel_px)

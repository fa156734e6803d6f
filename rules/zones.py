"""Zones in space (shapely polygons, WGS84 lon/lat) and time (effective dates in the zone's local calendar)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from shapely import prepared
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from rules.config import ZoneConfig, ZonePhase

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def local_date(at: datetime, tz: tzinfo | str = DEFAULT_TIMEZONE) -> date:
    """The calendar date of an aware instant in the given zone (naive instants are refused: never guess)."""
    if at.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return at.astimezone(zone).date()


def _in_dates(day: date, start: date, end: date | None) -> bool:
    return start <= day and (end is None or day <= end)


def zone_active(zone: ZoneConfig, at: datetime, tz: tzinfo | str = DEFAULT_TIMEZONE) -> bool:
    """Whether the zone is in force at `at`: its local date lies in [effective_from, effective_to] (inclusive)."""
    return _in_dates(local_date(at, tz), zone.effective_from, zone.effective_to)


def active_phase(zone: ZoneConfig, at: datetime, tz: tzinfo | str = DEFAULT_TIMEZONE) -> ZonePhase | None:
    """The latest-starting phase in force at `at`, for evidence ("pilot", "phase 2"...)."""
    day = local_date(at, tz)
    current = [p for p in zone.phases if _in_dates(day, p.effective_from, p.effective_to)]
    return max(current, key=lambda p: p.effective_from, default=None)


def zone_shape_at(zone: ZoneConfig, at: datetime, tz: tzinfo | str = DEFAULT_TIMEZONE) -> Polygon | MultiPolygon:
    """The zone's area at `at`: the geometry of the phase in force when it has one, else the zone's own."""
    phase = active_phase(zone, at, tz)
    if phase is not None and phase.geometry is not None:
        geometry: Polygon | MultiPolygon = shape(phase.geometry.model_dump())
        return geometry
    return zone.shape()


class ZoneIndex:
    """Point-in-zone for GPS positions. Boundary points count as inside (a gateway camera sits on the boundary)."""

    def __init__(self, zones: Iterable[ZoneConfig]) -> None:
        self._shapes: dict[str, Polygon | MultiPolygon] = {z.id: z.shape() for z in zones}
        self._prepared = {zone_id: prepared.prep(geom) for zone_id, geom in self._shapes.items()}

    def shape(self, zone_id: str) -> Polygon | MultiPolygon:
        return self._shapes[zone_id]

    def contains(self, zone_id: str, *, lat: float, lon: float) -> bool:
        """Whether (lat, lon) lies in the zone (keyword-only: lat/lon order mix-ups are the classic GIS bug)."""
        return bool(self._prepared[zone_id].intersects(Point(lon, lat)))

    def zones_at(self, *, lat: float, lon: float) -> list[str]:
        point = Point(lon, lat)
        return [zone_id for zone_id, geom in self._prepared.items() if geom.intersects(point)]

"""The LEZ rules as configuration data (DESIGN §6): zones, gateways, policies, exemptions.

Pure data: pydantic v2 models, `extra="forbid"`, frozen; validators only check shape and cross-references, they
never read files or look anything up. Dates are local calendar dates in `RulesConfig.timezone`, both ends inclusive
(`effective_to: 2027-12-31` means the whole of 31 Dec 2027). Time windows are local "HH:MM", start inclusive,
end exclusive, "24:00" allowed as an end; an end before the start wraps past midnight (22:00–06:00 is 22:00 up to
06:00 the next morning, on the `days` the window starts); start == end is refused (empty, or a whole day?).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.validation import explain_validity

from rules.types import Action, Fuel, PlateColour, VehicleClass

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
Position = tuple[float, float]  # GeoJSON order: (lon, lat)
PixelPoint = tuple[float, float]  # image pixels: (x, y), y pointing down


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_dates(start: date | None, end: date | None, what: str) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError(f"{what}: effective_to {end} is before effective_from {start}")


def _check_ring(ring: tuple[Position, ...]) -> None:
    if len(ring) < 4:
        raise ValueError(f"a polygon ring needs at least 4 positions (closed), got {len(ring)}")
    if ring[0] != ring[-1]:
        raise ValueError("a polygon ring must be closed: repeat the first position as the last (GeoJSON)")
    for lon, lat in ring:
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError(f"position ({lon}, {lat}) is not [lon, lat] in WGS84 degrees")


class PolygonGeometry(_Frozen):
    """GeoJSON Polygon in WGS84, positions as [lon, lat]; first ring is the shell, the rest are holes."""

    type: Literal["Polygon"]
    coordinates: tuple[tuple[Position, ...], ...] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _rings_closed(cls, rings: tuple[tuple[Position, ...], ...]) -> tuple[tuple[Position, ...], ...]:
        for ring in rings:
            _check_ring(ring)
        return rings


class MultiPolygonGeometry(_Frozen):
    type: Literal["MultiPolygon"]
    coordinates: tuple[tuple[tuple[Position, ...], ...], ...] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _rings_closed(
        cls, polygons: tuple[tuple[tuple[Position, ...], ...], ...]
    ) -> tuple[tuple[tuple[Position, ...], ...], ...]:
        for rings in polygons:
            if not rings:
                raise ValueError("a polygon needs at least its outer ring")
            for ring in rings:
                _check_ring(ring)
        return polygons


Geometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


class ZonePhase(_Frozen):
    """A legal phase of a zone: its name goes into every decision and message (evidence of which legal text
    applied); enforcement uses the zone's own dates and the policies' dates. A phase that changes the area
    (14 wards from 2028, 36 wards from 2030) carries its own `geometry`; without one it keeps the zone's."""

    name: str = Field(min_length=1)
    effective_from: date
    effective_to: date | None = None
    note: str = ""
    geometry: Geometry | None = None

    @model_validator(mode="after")
    def _dates(self) -> Self:
        _check_dates(self.effective_from, self.effective_to, f"phase {self.name!r}")
        if self.geometry is not None:
            polygon = shape(self.geometry.model_dump())
            if not polygon.is_valid:
                raise ValueError(f"phase {self.name!r}: invalid polygon ({explain_validity(polygon)})")
        return self


class ZoneConfig(_Frozen):
    id: str = Field(min_length=1)
    name: str
    geometry: Geometry
    effective_from: date
    effective_to: date | None = None
    phases: tuple[ZonePhase, ...] = ()

    @model_validator(mode="after")
    def _dates_and_shape(self) -> Self:
        _check_dates(self.effective_from, self.effective_to, f"zone {self.id!r}")
        _unique([p.name for p in self.phases], f"phase name in zone {self.id!r}")
        for phase in self.phases:
            if phase.effective_from < self.effective_from:
                raise ValueError(f"zone {self.id!r}: phase {phase.name!r} starts {phase.effective_from}, before the "
                                 f"zone itself ({self.effective_from})")
        polygon = self.shape()
        if not polygon.is_valid:
            raise ValueError(f"zone {self.id!r}: invalid polygon ({explain_validity(polygon)})")
        return self

    def shape(self) -> Polygon | MultiPolygon:
        """The zone as a shapely geometry in (lon, lat) degrees (computed, not cached: configs are small)."""
        geometry: Polygon | MultiPolygon = shape(self.geometry.model_dump())
        return geometry


class GeoPoint(_Frozen):
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)


class EntryLine(_Frozen):
    """A line across the image that vehicles cross when passing the gateway.

    `inside_side` is the side of the zone's inside as seen on screen by someone standing on `points[0]` and looking
    towards `points[1]`. For the line (0,360)→(1280,360), "right" is the lower half of the image: a vehicle
    moving down the image enters. `min_travel_px`: how far past the line a track must be on each side to count
    (jitter near the line is ignored).
    """

    points: tuple[PixelPoint, PixelPoint]
    inside_side: Literal["left", "right"]
    min_travel_px: float = Field(default=20.0, ge=0.0)

    @field_validator("points")
    @classmethod
    def _distinct(cls, points: tuple[PixelPoint, PixelPoint]) -> tuple[PixelPoint, PixelPoint]:
        if points[0] == points[1]:
            raise ValueError("the entry line needs two distinct points")
        return points


class GatewayConfig(_Frozen):
    camera_id: str = Field(min_length=1)
    gateway_id: str = Field(min_length=1)
    zone_id: str
    gps: GeoPoint
    entry_line: EntryLine


class TimeWindow(_Frozen):
    """Local time of day, start inclusive, end exclusive. An end before the start wraps past midnight: 22:00–06:00
    holds 23:00 and 05:59, not 06:00 nor 12:00. An end equal to the start is refused: it could mean no time at all
    or the whole day (that is 00:00–24:00)."""

    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError("write times as quoted strings like '19:00' (unquoted, YAML reads 19:00 as a number)")
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise ValueError(f"time must be 'HH:MM' (00:00..23:59, or 24:00 as an end), got {value!r}")
        return value

    @model_validator(mode="after")
    def _start_not_2400(self) -> Self:
        if self.start == "24:00":
            raise ValueError("a window cannot start at 24:00; use '00:00'")
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start!r}: an empty window or the whole day? For the "
                             "whole day write start '00:00', end '24:00'; a night window wraps past midnight with "
                             "an end before its start (e.g. '22:00' to '06:00')")
        return self

    @property
    def start_minute(self) -> int:
        return _minutes(self.start)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class PolicyConfig(_Frozen):
    """One rule: who (class × fuel × emission × colour × commercial use), where, when → action.

    An empty tuple means "any" for `vehicle_classes`, `fuels` and `plate_colours`; None means "any" for the
    emission bounds and `commercial`. `days` are the local weekdays on which the window starts.
    """

    id: str = Field(min_length=1)
    description: str = ""
    zone_ids: tuple[str, ...] = Field(min_length=1)
    vehicle_classes: tuple[VehicleClass, ...] = ()
    fuels: tuple[Fuel, ...] = ()
    min_emission_level: int | None = Field(default=None, ge=1, le=6)
    max_emission_level: int | None = Field(default=None, ge=1, le=6)
    plate_colours: tuple[PlateColour, ...] = ()
    commercial: bool | None = None
    days: tuple[Weekday, ...] = WEEKDAYS
    window: TimeWindow = TimeWindow()
    effective_from: date
    effective_to: date | None = None
    action: Action
    legal_reference: str = ""
    liability: Literal["per_entry", "per_day"] = "per_entry"
    applies_to_direction: Literal["entry", "any"] = "entry"

    @field_validator("days", mode="before")
    @classmethod
    def _lower_days(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(v.lower() if isinstance(v, str) else v for v in value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_dates(self.effective_from, self.effective_to, f"policy {self.id!r}")
        low, high = self.min_emission_level, self.max_emission_level
        if low is not None and high is not None and low > high:
            raise ValueError(f"policy {self.id!r}: min_emission_level {low} > max_emission_level {high}")
        if not self.days:
            raise ValueError(f"policy {self.id!r}: days is empty, the policy could never apply")
        if PlateColour.UNCERTAIN in self.plate_colours:
            raise ValueError(f"policy {self.id!r}: 'uncertain' is not a plate colour a rule can target")
        return self


class ExemptionConfig(_Frozen):
    """Exempt whatever the policies say: plate colours read from the image, exemption tags from the registry."""

    plate_colours: tuple[PlateColour, ...] = ()
    registry_tags: tuple[str, ...] = ()
    # An exempt colour exempts before the registry is asked, so it must be sure: below this colour confidence the
    # passage goes to review. A white plate under amber light reads warm, and on rendered plates strong casts
    # made an exempt colour out of another at 0.75-0.92, while 90 % of blue and red plates read at 0.75 or more.
    min_colour_confidence: float = Field(0.9, ge=0.0, le=1.0)


class RulesConfig(_Frozen):
    timezone: str = "Asia/Ho_Chi_Minh"
    zones: tuple[ZoneConfig, ...] = Field(min_length=1)
    gateways: tuple[GatewayConfig, ...] = ()
    policies: tuple[PolicyConfig, ...] = ()
    exemptions: ExemptionConfig = ExemptionConfig()
    registry_path: str | None = None  # resolved by the loader (relative to the config file)

    @field_validator("registry_path")
    @classmethod
    def _registry_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("registry_path is empty: name the registry file, or leave the key out for no registry")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (Hanoi is 'Asia/Ho_Chi_Minh')") from None
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        zone_ids = [z.id for z in self.zones]
        _unique(zone_ids, "zone id")
        _unique([g.camera_id for g in self.gateways], "gateway camera_id")
        _unique([p.id for p in self.policies], "policy id")
        known = set(zone_ids)
        for gateway in self.gateways:
            if gateway.zone_id not in known:
                raise ValueError(f"gateway {gateway.gateway_id!r} (camera {gateway.camera_id!r}) refers to unknown "
                                 f"zone {gateway.zone_id!r}; known zones: {sorted(known)}")
            _check_gateway_position(gateway, self.zone(gateway.zone_id))
        for policy in self.policies:
            missing = [z for z in policy.zone_ids if z not in known]
            if missing:
                raise ValueError(f"policy {policy.id!r} refers to unknown zone(s) {missing}; "
                                 f"known zones: {sorted(known)}")
        return self

    def zone(self, zone_id: str) -> ZoneConfig:
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(zone_id)

    def gateway_for_camera(self, camera_id: str) -> GatewayConfig | None:
        return next((g for g in self.gateways if g.camera_id == camera_id), None)


GATEWAY_MAX_OFFSET_DEG = 0.005  # ≈ 550 m at Hanoi: a gateway camera stands on (or near) its zone's boundary


def _check_gateway_position(gateway: GatewayConfig, zone: ZoneConfig) -> None:
    """A camera far from its zone is a typo or swapped lat/lon, and would stamp wrong GPS on every violation."""
    distance = zone.shape().distance(Point(gateway.gps.lon, gateway.gps.lat))
    if distance > GATEWAY_MAX_OFFSET_DEG:
        raise ValueError(f"gateway {gateway.gateway_id!r}: GPS (lat {gateway.gps.lat}, lon {gateway.gps.lon}) is "
                         f"{distance:.3f}° from zone {zone.id!r} (at most {GATEWAY_MAX_OFFSET_DEG}°): lat/lon swapped?")


def _unique(values: list[str], what: str) -> None:
    duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate {what}: {duplicates}")

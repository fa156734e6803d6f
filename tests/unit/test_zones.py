"""Zones in time (local effective dates) and space (GPS point in polygon)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rules.config import ZoneConfig
from rules.zones import ZoneIndex, active_phase, local_date, zone_active

BOX = [[105.849, 21.0255], [105.856, 21.0255], [105.856, 21.0385], [105.849, 21.0385], [105.849, 21.0255]]


def zone(**changes: Any) -> ZoneConfig:
    data: dict[str, Any] = {"id": "z1", "name": "Z", "effective_from": "2026-07-01", "effective_to": "2027-12-31",
                            "geometry": {"type": "Polygon", "coordinates": [BOX]},
                            "phases": [{"name": "pilot", "effective_from": "2026-07-01",
                                        "effective_to": "2027-12-31"},
                                       {"name": "late", "effective_from": "2027-07-01"}]}
    return ZoneConfig.model_validate(data | changes)


@pytest.mark.parametrize(("utc", "active"), [
    (datetime(2026, 6, 30, 16, 59, 59, tzinfo=UTC), False),  # 23:59:59 local on 30 June
    (datetime(2026, 6, 30, 17, 0, 0, tzinfo=UTC), True),  # 00:00 local on 1 July
    (datetime(2027, 12, 31, 16, 59, 59, tzinfo=UTC), True),  # last second of the inclusive end date
    (datetime(2027, 12, 31, 17, 0, 0, tzinfo=UTC), False),  # 1 Jan 2028 local
])
def test_zone_active_uses_local_dates(utc: datetime, active: bool) -> None:
    assert zone_active(zone(), utc) is active


def test_open_ended_zone_and_naive_time_refused() -> None:
    assert zone_active(zone(effective_to=None), datetime(2040, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2026, 7, 1))


def test_active_phase_is_the_latest_started() -> None:
    phase = active_phase(zone(), datetime(2027, 8, 1, tzinfo=UTC))
    assert phase is not None and phase.name == "late"
    early = active_phase(zone(), datetime(2026, 8, 1, tzinfo=UTC))
    assert early is not None and early.name == "pilot"
    assert active_phase(zone(), datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_point_in_zone_with_lat_lon_keywords() -> None:
    index = ZoneIndex([zone()])
    assert index.contains("z1", lat=21.03, lon=105.852)
    assert not index.contains("z1", lat=105.852, lon=21.03)  # swapped: the classic bug must not pass
    assert not index.contains("z1", lat=21.05, lon=105.852)
    assert index.contains("z1", lat=21.0255, lon=105.852)  # on the boundary counts
    assert index.zones_at(lat=21.03, lon=105.852) == ["z1"]


def test_multipolygon_zone() -> None:
    other = [[105.9, 21.1], [105.91, 21.1], [105.91, 21.11], [105.9, 21.1]]
    multi = zone(geometry={"type": "MultiPolygon", "coordinates": [[BOX], [other]]})
    index = ZoneIndex([multi])
    assert index.contains("z1", lat=21.03, lon=105.852)
    assert index.contains("z1", lat=21.102, lon=105.905)
    assert not index.contains("z1", lat=21.07, lon=105.88)

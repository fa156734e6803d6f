"""Rules configuration: shape, cross-references, and the committed YAML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from rules.config import PolicyConfig, RulesConfig, TimeWindow
from rules.types import Action, VehicleClass
from rules.zones import ZoneIndex

ROOT = Path(__file__).resolve().parents[2]
BOX = [[105.849, 21.0255], [105.856, 21.0255], [105.856, 21.0385], [105.849, 21.0385], [105.849, 21.0255]]


def minimal() -> dict[str, Any]:
    return {
        "zones": [{"id": "z1", "name": "Zone 1", "effective_from": "2026-07-01",
                   "geometry": {"type": "Polygon", "coordinates": [BOX]}}],
        "gateways": [{"camera_id": "cam-1", "gateway_id": "gw-1", "zone_id": "z1",
                      "gps": {"lat": 21.03, "lon": 105.852},
                      "entry_line": {"points": [[0, 360], [1280, 360]], "inside_side": "right"}}],
        "policies": [{"id": "p1", "zone_ids": ["z1"], "vehicle_classes": ["car"], "days": ["Fri", "sat"],
                      "window": {"start": "19:00", "end": "24:00"}, "effective_from": "2026-07-01",
                      "action": "fine"}],
    }


def test_minimal_config_validates_with_defaults() -> None:
    config = RulesConfig.model_validate(minimal())
    assert config.timezone == "Asia/Ho_Chi_Minh"
    policy = config.policies[0]
    assert policy.vehicle_classes == (VehicleClass.CAR,) and policy.action is Action.FINE
    assert policy.days == ("fri", "sat")
    assert (policy.window.start_minute, policy.window.end_minute) == (19 * 60, 24 * 60)
    assert policy.liability == "per_entry" and policy.applies_to_direction == "entry"
    assert config.gateway_for_camera("cam-1") is not None and config.gateway_for_camera("nope") is None


def test_config_is_frozen() -> None:
    config = RulesConfig.model_validate(minimal())
    with pytest.raises(ValidationError):
        config.timezone = "UTC"  # type: ignore[misc]


@pytest.mark.parametrize(("path", "key"), [
    ((), "surprise"),
    (("zones", 0), "colour"),
    (("gateways", 0), "fps"),
    (("policies", 0), "fine_vnd"),
])
def test_unknown_keys_are_rejected(path: tuple[Any, ...], key: str) -> None:
    data = minimal()
    target: Any = data
    for step in path:
        target = target[step]
    target[key] = 1
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        RulesConfig.model_validate(data)


def test_policy_with_unknown_zone_names_it() -> None:
    data = minimal()
    data["policies"][0]["zone_ids"] = ["z1", "ring9"]
    with pytest.raises(ValidationError, match=r"policy 'p1' refers to unknown zone\(s\) \['ring9'\]"):
        RulesConfig.model_validate(data)


def test_gateway_with_unknown_zone_names_it() -> None:
    data = minimal()
    data["gateways"][0]["zone_id"] = "nowhere"
    with pytest.raises(ValidationError, match=r"gateway 'gw-1' .* unknown zone 'nowhere'"):
        RulesConfig.model_validate(data)


def test_duplicate_ids_are_rejected() -> None:
    data = minimal()
    data["policies"].append(dict(data["policies"][0]))
    with pytest.raises(ValidationError, match=r"duplicate policy id: \['p1'\]"):
        RulesConfig.model_validate(data)


@pytest.mark.parametrize(("window", "message"), [
    ({"start": 1140, "end": "24:00"}, "quoted strings"),  # YAML's reading of unquoted 19:00
    ({"start": "7:00", "end": "24:00"}, "HH:MM"),
    ({"start": "19:00", "end": "24:01"}, "HH:MM"),
    ({"start": "24:00", "end": "06:00"}, "cannot start at 24:00"),
    ({"start": "06:00", "end": "06:00"}, "start and end are both '06:00': an empty window or the whole day"),
    ({"start": "00:00", "end": "00:00"}, "whole day write start '00:00', end '24:00'"),
])
def test_bad_time_windows(window: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TimeWindow.model_validate(window)


def test_unquoted_yaml_time_gets_a_clear_message() -> None:
    data = yaml.safe_load("start: 19:00\nend: '24:00'\n")
    assert data["start"] == 1140
    with pytest.raises(ValidationError, match="quoted strings"):
        TimeWindow.model_validate(data)


@pytest.mark.parametrize(("change", "message"), [
    ({"effective_to": "2026-01-01"}, "before effective_from"),
    ({"min_emission_level": 4, "max_emission_level": 3}, "min_emission_level 4 > max_emission_level 3"),
    ({"max_emission_level": 7}, "less than or equal to 6"),
    ({"days": []}, "days is empty"),
    ({"days": ["funday"]}, "Input should be 'mon'"),
    ({"action": "jail"}, "'inform', 'warn' or 'fine'"),
    ({"plate_colours": ["uncertain"]}, "not a plate colour a rule can target"),
])
def test_bad_policies(change: dict[str, Any], message: str) -> None:
    data = minimal()["policies"][0] | change
    with pytest.raises(ValidationError, match=message):
        PolicyConfig.model_validate(data)


@pytest.mark.parametrize(("coordinates", "message"), [
    ([BOX[:-1]], "must be closed"),
    ([BOX[:3]], "at least 4 positions"),
    ([[[21.03, 105.85], [21.04, 105.85], [21.04, 105.86], [21.03, 105.85]]], "not \\[lon, lat\\]"),
    ([[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], "invalid polygon"),  # a bow tie
])
def test_bad_zone_geometry(coordinates: list[Any], message: str) -> None:
    data = minimal()
    data["zones"][0]["geometry"]["coordinates"] = coordinates
    with pytest.raises(ValidationError, match=message):
        RulesConfig.model_validate(data)


def test_entry_line_needs_two_distinct_points() -> None:
    data = minimal()
    data["gateways"][0]["entry_line"]["points"] = [[5, 5], [5, 5]]
    with pytest.raises(ValidationError, match="two distinct points"):
        RulesConfig.model_validate(data)


@pytest.mark.parametrize("name", ["hanoi", "demo"])
def test_committed_configs_validate_and_gateways_sit_in_their_zone(name: str) -> None:
    config = RulesConfig.model_validate(yaml.safe_load((ROOT / "configs" / name / "rules.yaml").read_text()))
    index = ZoneIndex(config.zones)
    assert config.policies and config.gateways
    for gateway in config.gateways:
        assert index.contains(gateway.zone_id, lat=gateway.gps.lat, lon=gateway.gps.lon)
    assert RulesConfig.model_validate(config.model_dump()) == config


def test_hanoi_config_has_the_pilot_zones_and_policies() -> None:
    config = RulesConfig.model_validate(yaml.safe_load((ROOT / "configs/hanoi/rules.yaml").read_text()))
    assert {z.id for z in config.zones} == {"ring1-pilot", "hk-area1"}
    ring1 = config.zone("ring1-pilot")
    assert (ring1.effective_from.isoformat(), str(ring1.effective_to)) == ("2026-07-01", "2027-12-31")
    actions = {p.id: p.action for p in config.policies}
    assert actions["hk-area1-weekend-evening-car"] is Action.FINE
    assert actions["ring1-fossil-motorcycle-2026"] is Action.WARN
    assert actions["ring1-car-below-level4"] is Action.INFORM
    index = ZoneIndex(config.zones)
    assert index.contains("ring1-pilot", lat=21.0285, lon=105.8542)  # Hoàn Kiếm Lake
    assert not index.contains("ring1-pilot", lat=21.0, lon=105.78)  # well outside, south-west


def test_gateway_far_from_its_zone_is_refused() -> None:
    data = minimal()
    data["gateways"][0]["gps"] = {"lat": 21.2, "lon": 105.852}  # ≈ 18 km north of the zone
    with pytest.raises(ValidationError, match="lat/lon swapped"):
        RulesConfig.model_validate(data)


def test_phase_with_its_own_geometry_and_dates() -> None:
    from datetime import UTC, datetime

    from rules.zones import zone_shape_at

    data = minimal()
    zone = data["zones"][0]
    wide = [[105.80, 21.00], [105.90, 21.00], [105.90, 21.10], [105.80, 21.10], [105.80, 21.00]]
    zone["phases"] = [{"name": "pilot", "effective_from": zone["effective_from"]},
                      {"name": "wider", "effective_from": "2030-01-01", "geometry": {"type": "Polygon",
                                                                                     "coordinates": [wide]}}]
    config = RulesConfig.model_validate(data)
    z = config.zones[0]
    assert zone_shape_at(z, datetime(2029, 12, 31, 16, 59, tzinfo=UTC)).equals(z.shape())
    assert zone_shape_at(z, datetime(2029, 12, 31, 17, 0, tzinfo=UTC)).area > z.shape().area  # 2030-01-01 local
    zone["phases"][0]["effective_from"] = "2000-01-01"
    with pytest.raises(ValidationError, match="before the zone itself"):
        RulesConfig.model_validate(data)
    zone["phases"] = [{"name": "a", "effective_from": "2030-01-01"}, {"name": "a", "effective_from": "2031-01-01"}]
    with pytest.raises(ValidationError, match="duplicate phase name"):
        RulesConfig.model_validate(data)


def test_unknown_timezone_is_a_config_error_not_a_crash() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Mars/Olympus'"):
        RulesConfig.model_validate({**minimal(), "timezone": "Mars/Olympus"})


@pytest.mark.parametrize(("start", "end"), [("22:00", "06:00"), ("00:00", "24:00"), ("19:00", "24:00"),
                                            ("23:59", "00:00")])
def test_windows_that_wrap_or_fill_the_day_are_accepted(start: str, end: str) -> None:
    assert TimeWindow.model_validate({"start": start, "end": end}).start == start


def test_a_window_that_starts_where_it_ends_names_file_line_and_key(tmp_path: Path) -> None:
    from pipeline.yaml_config import ConfigError, load_model

    rules = ROOT / "configs/demo/rules.yaml"
    text = rules.read_text(encoding="utf-8")
    assert 'window: {start: "19:00", end: "24:00"}' in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace('window: {start: "19:00", end: "24:00"}', 'window: {start: "19:00", end: "19:00"}'),
                    encoding="utf-8")
    line = 1 + text[:text.index('window: {start: "19:00"')].count("\n")
    with pytest.raises(ConfigError) as info:
        load_model(RulesConfig, path)
    [message] = info.value.lines
    assert message.startswith(f"{path}:{line}: policies.0.window: ") and "both '19:00'" in message

"""Config loading: every error names the file, its line and the dotted key; bad files are ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.app import load_config
from pipeline.config import AppConfig
from pipeline.yaml_config import ConfigError, load_model, load_yaml

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str, name: str = "box.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
site_id: test
rules_file: rules.yaml
cameras:
  - id: cam-1
    source: clip.mp4
tracking:
  max_age_s: 1.5
"""


def test_valid_config_loads(tmp_path: Path) -> None:
    app = load_model(AppConfig, _write(tmp_path, GOOD))
    assert app.cameras[0].id == "cam-1" and app.tracking.max_age_s == 1.5


def test_unknown_key_reports_its_line_and_dotted_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("    source: clip.mp4\n", "    source: clip.mp4\n    sourcee: x.mp4\n"))
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert any(line.startswith(f"{path}:6: cameras.0.sourcee:") for line in info.value.lines), info.value.lines


def test_unknown_nested_key_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "  max_agee_s: 3\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert info.value.lines == [f"{path}:8: tracking.max_agee_s: Extra inputs are not permitted"]


def test_wrong_type_reports_line_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("max_age_s: 1.5", "max_age_s: soon"))
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    [line] = info.value.lines
    assert line.startswith(f"{path}:7: tracking.max_age_s:")
    assert "number" in line


def test_out_of_range_value_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "runtime:\n  queue_size: 0\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert info.value.lines[0].startswith(f"{path}:9: runtime.queue_size:")


def test_an_empty_colour_list_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "ocr:\n  colours: []\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert info.value.lines[0].startswith(f"{path}:9: ocr.colours:")


def test_naive_start_time_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("    source: clip.mp4\n",
                                         "    source: clip.mp4\n    start_time: '2026-07-03T19:00:00'\n"))
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert "UTC offset" in info.value.lines[0] and ":6: cameras.0.start_time" in info.value.lines[0]


def test_yaml_syntax_error_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "site_id: x\ncameras:\n  - id: [unclosed\nrules_file: r.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    [line] = info.value.lines
    assert line.startswith(f"{path}:")
    assert "YAML syntax error" in line
    assert int(line.split(":")[1]) in (3, 4)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, tmp_path / "nope.yaml")
    assert info.value.lines == [f"{tmp_path / 'nope.yaml'}: config file not found"]


def test_missing_required_key_names_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "cameras:\n  - id: c\n    source: a.mp4\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert any("rules_file" in line and "Field required" in line for line in info.value.lines)


def test_missing_rules_file_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "rules.yaml" in str(info.value) and "not found" in str(info.value)


def test_demo_config_loads_with_rules_and_registry() -> None:
    loaded = load_config(REPO / "configs" / "demo" / "demo.yaml")
    assert loaded.app.cameras[0].id == "demo-cam-1"
    assert loaded.rules.gateway_for_camera("demo-cam-1") is not None
    assert len(loaded.registry) >= 1
    assert len(loaded.config_sha256) == 64


def test_bad_camera_item_is_not_also_reported_as_an_empty_camera_list(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("    source: clip.mp4\n", "    source: clip.mp4\n    sourcee: x.mp4\n"))
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert info.value.lines == [f"{path}:6: cameras.0.sourcee: Extra inputs are not permitted"]


def test_empty_camera_list_is_still_too_short(tmp_path: Path) -> None:
    path = _write(tmp_path, "rules_file: r.yaml\ncameras: []\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert len(info.value.lines) == 1 and info.value.lines[0].startswith(f"{path}:2: cameras:")


def test_binary_file_as_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "clip.yaml"
    path.write_bytes(b"site_id: a\n\x00\xf8\xff")
    with pytest.raises(ConfigError, match=r"clip\.yaml:2: not a UTF-8 text file"):
        load_yaml(path)

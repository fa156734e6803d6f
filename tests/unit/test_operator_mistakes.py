"""Mistakes an operator makes, each one clear line and the documented exit code (found by a new user's try-out)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.addresses import bootstrap_problem
from pipeline.app import load_config
from pipeline.cli import EXIT_CONFIG, EXIT_OK, main
from pipeline.config import KafkaConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "problem"), [
    ("127.0.0.1:9092", None), ("a:1,b:65535", None), ("broker.example:9093", None),
    ("notaport", "is not HOST:PORT"), (":9092", "is not HOST:PORT"), ("127.0.0.1:99999", "port must be"),
    ("127.0.0.1:x", "port must be"), ("", "empty"),
])
def test_bootstrap_addresses(text: str, problem: str | None) -> None:
    found = bootstrap_problem(text)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_bad_bootstrap_in_config_names_the_key() -> None:
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        KafkaConfig(bootstrap="kafka-without-port")


def test_bad_bootstrap_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--config", str(ROOT / "configs/demo/demo.yaml"), "--bootstrap", "notaport"])
    assert exc.value.code == 2 and "'notaport' is not HOST:PORT" in capsys.readouterr().err


def _demo_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "box"
    shutil.copytree(ROOT / "configs/demo", folder)
    clip = (ROOT / "sample_videos/demo_gateway.mp4").as_posix()
    text = (folder / "demo.yaml").read_text().replace("../../sample_videos/demo_gateway.mp4", clip)
    (folder / "demo.yaml").write_text(text)
    return folder


def test_validate_config_fails_on_skipped_registry_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _demo_copy(tmp_path)
    with (folder / "registry.csv").open("a") as handle:
        handle.write("NOT-A-PLATE,car,petrol,3,false,2024-01-01,,,\n")
    assert main(["validate-config", str(folder / "demo.yaml")]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "NOT OK: 1 registry row(s) skipped, 0 camera(s) without gateway" in err


def test_validate_config_warns_about_a_camera_without_gateway(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = _demo_copy(tmp_path)
    text = (folder / "rules.yaml").read_text().replace("camera_id: demo-cam-1", "camera_id: other-cam")
    (folder / "rules.yaml").write_text(text)
    assert main(["validate-config", str(folder / "demo.yaml")]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "camera 'demo-cam-1' has no gateway" in err and "1 camera(s) without gateway" in err


def test_validate_config_ok_on_the_shipped_configs(capsys: pytest.CaptureFixture[str]) -> None:
    configs = ["configs/demo/demo.yaml", "configs/example-gateway.yaml"]
    # The audit box's camera is the third-party clip in ../shared/data, which validate-config checks exists.
    if (ROOT.parent / "shared/data/videos/intel_car-detection.mp4").is_file():
        configs.append("configs/audit-intel/box.yaml")
    for config in configs:
        assert main(["validate-config", str(ROOT / config)]) == EXIT_OK, capsys.readouterr().err
        loaded = load_config(ROOT / config)
        assert loaded.cameras_without_gateway() == [] and loaded.registry_rows_skipped == ()


def test_file_camera_without_start_time_is_refused_not_stamped_with_a_made_up_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _demo_copy(tmp_path)
    text = (folder / "demo.yaml").read_text()
    (folder / "demo.yaml").write_text("\n".join(line for line in text.splitlines() if "start_time" not in line))
    code = main(["run", "--config", str(folder / "demo.yaml"), "--no-kafka", "--out", str(tmp_path / "out")])
    assert code == EXIT_CONFIG
    assert "cameras.demo-cam-1.start_time: required for a video file" in capsys.readouterr().err


def test_paths_that_cannot_be_used_are_one_line_not_a_traceback(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("plain text, not SQLite\n" * 200)
    assert main(["registry", "import", str(ROOT / "configs/demo/registry.csv"), "--db", str(not_a_db)]) == 3
    assert "not a SQLite database" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["evidence", "purge", str(tmp_path), "--days", "-1"])
    assert exc.value.code == 2 and "must be 0 or more days" in capsys.readouterr().err


def test_missing_rules_file_names_the_key(tmp_path: Path) -> None:
    from pipeline.yaml_config import ConfigError

    folder = _demo_copy(tmp_path)
    text = (folder / "demo.yaml").read_text().replace("rules_file: rules.yaml", "rules_file: nope.yaml")
    (folder / "demo.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"demo\.yaml:4: rules_file: file not found: .*nope\.yaml"):
        load_config(folder / "demo.yaml")


@pytest.mark.parametrize("command", ["read-plates", "eval"])
def test_a_line_model_with_easyocr_is_refused_not_ignored(
        tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "labels.csv").write_text("set,file,plate_compact\n")
    target = [str(ROOT / "README.md")] if command == "read-plates" else ["--data", str(tmp_path)]
    for model in ("crnn", "ppocr-plate"):
        assert main([command, *target, "--engine", "easyocr", "--line-model", model]) == EXIT_CONFIG
        assert f"--line-model {model} needs the ppocr engine" in capsys.readouterr().err

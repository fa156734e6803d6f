"""What `validate-config` must catch so that `run` never refuses a config the checker passed (a new user's try-out):
a file camera's start_time and source, detector/tracking bounds, repeated YAML keys, the line of a missing file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.app import camera_source_problems, load_config
from pipeline.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_OK, main
from pipeline.config import AppConfig, CameraConfig
from pipeline.yaml_config import ConfigError, load_model, load_yaml

ROOT = Path(__file__).resolve().parents[2]
CLIP = (ROOT / "sample_videos/demo_gateway.mp4").as_posix()
START = '    start_time: "2026-07-03T19:00:00+07:00"\n'


def _box(tmp_path: Path, camera: str) -> Path:
    """The demo box in tmp_path (rules, registry) with one camera `demo-cam-1` given as its YAML lines 5-."""
    folder = tmp_path / "box"
    shutil.copytree(ROOT / "configs/demo", folder, dirs_exist_ok=True)
    config = folder / "box.yaml"
    config.write_text("site_id: t\nrules_file: rules.yaml\n# comment\ncameras:\n  - id: demo-cam-1\n" + camera)
    return config


def _error_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.startswith("  ")]


def _validate_then_run(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, int, str]:
    checked = main(["validate-config", str(config)])
    checked_err = capsys.readouterr().err
    ran = main(["run", "--config", str(config), "--no-kafka", "--out", str(tmp_path / "out")])
    return checked, checked_err, ran, capsys.readouterr().err


def test_file_camera_without_start_time_fails_validate_config_as_run_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, f"    source: {CLIP}\n")
    checked, checked_err, ran, ran_err = _validate_then_run(config, tmp_path, capsys)
    assert checked == ran == EXIT_CONFIG
    # Line 5: the camera's own line (start_time is not in the file). The same line from both commands.
    expected = f"{config}:5: cameras.demo-cam-1.start_time: required for a video file or image folder"
    assert [line for line in _error_lines(checked_err) if line.startswith(expected)], checked_err
    assert _error_lines(checked_err) == _error_lines(ran_err)


def test_missing_source_file_fails_validate_config_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, "    source: clips/nope.mp4\n" + START)
    checked, checked_err, ran, ran_err = _validate_then_run(config, tmp_path, capsys)
    message = (f"{config}:6: cameras.demo-cam-1.source: video file or image folder not found: "
               f"{config.parent / 'clips/nope.mp4'}")
    assert checked == EXIT_CONFIG and _error_lines(checked_err) == [message]
    assert ran == EXIT_INPUT and message in ran_err  # run: footage not there is exit 3, the same words


def test_empty_image_folder_is_reported_and_a_full_one_passes(tmp_path: Path) -> None:
    config = _box(tmp_path, "    source: frames\n" + START)
    (config.parent / "frames").mkdir()
    with pytest.raises(ConfigError, match=r"box\.yaml:6: cameras\.demo-cam-1\.source: no images"):
        load_config(config, check_sources=True)
    (config.parent / "frames/notes.txt").write_text("not an image")
    with pytest.raises(ConfigError, match="no images"):
        load_config(config, check_sources=True)
    (config.parent / "frames/0001.jpg").write_bytes(b"\xff\xd8")
    assert load_config(config, check_sources=True).app.cameras[0].source == "frames"


@pytest.mark.parametrize("source", ["rtsp://127.0.0.1:8554/cam1", "http://10.0.0.5/video.mjpg", "RTSPS://cam/x"])
def test_live_sources_are_not_checked(tmp_path: Path, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, f"    source: {source}\n")  # no start_time: a live camera's frames carry wall time
    assert main(["validate-config", str(config)]) == EXIT_OK, capsys.readouterr().err


def test_device_number_is_not_a_source_and_says_so(tmp_path: Path) -> None:
    camera = CameraConfig(id="c", source="0", start_time=None)
    problems = camera_source_problems(camera, tmp_path / "box.yaml", {})
    assert problems[0].missing_input and "device number is not a source" in problems[0].message


def test_a_command_line_source_is_named_as_such(tmp_path: Path) -> None:
    camera = CameraConfig(id="c", source=CLIP, start_time=datetime(2026, 7, 3, 12, tzinfo=UTC))
    assert camera_source_problems(camera, tmp_path / "box.yaml", {}) == []
    [problem] = camera_source_problems(camera, tmp_path / "box.yaml", {}, source_override=str(tmp_path / "x.mp4"))
    assert problem.message.startswith("--source: video file or image folder not found")


@pytest.mark.parametrize(("section", "value"), [
    ("detectors:\n  vehicle: {weights: yolov8n.onnx, conf: 3.0}\n", "detectors.vehicle.conf"),
    ("detectors:\n  plate: {weights: p.onnx, conf: -0.1}\n", "detectors.plate.conf"),
    ("detectors:\n  vehicle: {weights: yolov8n.onnx, conf: 1.0}\n", "detectors.vehicle.conf"),
    ("detectors:\n  vehicle: {weights: yolov8n.onnx, iou: 7}\n", "detectors.vehicle.iou"),
    ("ocr:\n  min_confidence: 1.5\n", "ocr.min_confidence"),
    ("tracking:\n  match_iou: 2\n", "tracking.match_iou"),
    ("tracking:\n  max_age_s: .inf\n", "tracking.max_age_s"),
    ("tracking:\n  max_age_s: .nan\n", "tracking.max_age_s"),
    ("tracking:\n  max_age_s: 600\n", "tracking.max_age_s"),
    ("tracking:\n  min_frames: 5000\n", "tracking.min_frames"),
    ("tracking:\n  min_plate_width_px: 100000\n", "tracking.min_plate_width_px"),
    ("runtime:\n  stop_timeout_s: .inf\n", "runtime.stop_timeout_s"),
    # `true` is not a score of 1 nor a 641 px input a YOLO stride allows; a backoff cannot shrink.
    ("detectors:\n  vehicle: {weights: yolov8n.onnx, conf: true}\n", "detectors.vehicle.conf"),
    ("tracking:\n  min_frames: yes\n", "tracking.min_frames"),
    ("detectors:\n  vehicle: {weights: yolov8n.onnx, imgsz: 641}\n", "detectors.vehicle.imgsz"),
    ("live:\n  backoff_initial_s: 10\n  backoff_max_s: 2\n", "live"),
])
def test_out_of_range_thresholds_are_refused(tmp_path: Path, section: str, value: str) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("rules_file: r.yaml\ncameras:\n  - {id: c, source: rtsp://cam/1}\n" + section)
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    [line] = info.value.lines
    assert line.startswith(f"{path}:") and f": {value}: " in line


def test_in_range_thresholds_load(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("rules_file: r.yaml\ncameras:\n  - {id: c, source: rtsp://cam/1}\ndetectors:\n"
                    "  vehicle: {weights: yolov8n.onnx, conf: 0.05, iou: 0.7}\n"
                    "tracking: {max_age_s: 5, min_frames: 3, min_plate_width_px: 40}\n")
    app = load_model(AppConfig, path)
    assert app.detectors.vehicle.conf == 0.05 and app.tracking.min_frames == 3


def test_repeated_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("rules_file: r.yaml\nkafka:\n  bootstrap: 127.0.0.1:9092\n  client_id: x\n"
                    "  bootstrap: 127.0.0.1:9093\ncameras:\n  - id: a\n    source: x.mp4\n    source: y.mp4\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert info.value.lines == [f"{path}:5: kafka.bootstrap: duplicate key (first at line 3)",
                                f"{path}:9: cameras.0.source: duplicate key (first at line 8)"]


def test_same_key_in_different_mappings_and_merge_overrides_are_not_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("base: &b {conf: 0.3, iou: 0.5}\nvehicle:\n  <<: *b\n  conf: 0.4\nplate:\n  conf: 0.2\n")
    data, _ = load_yaml(path)
    assert data["vehicle"] == {"conf": 0.4, "iou": 0.5} and data["plate"] == {"conf": 0.2}


def test_repeated_key_in_the_rules_file_is_reported_by_validate_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, "    source: rtsp://cam/1\n")
    rules = config.parent / "rules.yaml"
    rules.write_text(rules.read_text().replace("timezone: Asia/Ho_Chi_Minh\n",
                                               "timezone: Asia/Ho_Chi_Minh\ntimezone: UTC\n"))
    assert main(["validate-config", str(config)]) == EXIT_CONFIG
    assert f"{rules}:4: timezone: duplicate key (first at line 3)" in capsys.readouterr().err


def test_missing_rules_file_names_its_line(tmp_path: Path) -> None:
    config = _box(tmp_path, "    source: rtsp://cam/1\n")
    config.write_text(config.read_text().replace("rules_file: rules.yaml", "rules_file: nope.yaml"))
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.lines == [f"{config}:2: rules_file: file not found: {config.parent / 'nope.yaml'}"]


def _registry_path_error(tmp_path: Path, value: str) -> tuple[Path, Path, list[str]]:
    """The box config, its rules file and the errors when the rules file's registry_path is `value`."""
    config = _box(tmp_path, "    source: rtsp://cam/1\n")
    rules = config.parent / "rules.yaml"
    rules.write_text(rules.read_text().replace("registry_path: registry.csv", f"registry_path: {value}"))
    with pytest.raises(ConfigError) as info:
        load_config(config)
    return config, rules, info.value.lines


def test_missing_registry_file_names_its_line(tmp_path: Path) -> None:
    config, rules, lines = _registry_path_error(tmp_path, "gone.csv")
    assert lines == [f"{rules}:4: registry_path: file not found: {config.parent / 'gone.csv'}"]


@pytest.mark.parametrize("config", ["configs/demo/demo.yaml", "configs/example-gateway.yaml",
                                    "configs/audit-intel/box.yaml", "configs/bench/bench.yaml",
                                    "configs/bench/gpu.yaml"])
def test_shipped_box_configs_pass_the_source_check(config: str) -> None:
    import onnxruntime as ort

    if not (ROOT / config).exists():
        pytest.skip(f"{config} not in this checkout")
    if "audit-intel" in config and not (ROOT.parent / "shared/data/videos/intel_car-detection.mp4").exists():
        pytest.skip("the Intel sample clip (../shared/data) is not in this checkout")
    if "gpu" in config and "CUDAExecutionProvider" not in ort.get_available_providers():
        # The GPU box's config on a machine without one: refused for its devices, and for nothing else.
        with pytest.raises(ConfigError) as caught:
            load_config(ROOT / config, check_sources=True)
        assert [line.split(": ")[1] for line in caught.value.lines] == ["detectors.vehicle.device",
                                                                        "detectors.plate.device"]
        return
    load_config(ROOT / config, check_sources=True)


@pytest.mark.parametrize(("source", "problem"), [
    ("rtsp://", "camera URL has no host: 'rtsp://' (e.g. rtsp://192.0.2.10:554/stream1)"),
    ("rtsp:///stream1", "camera URL has no host: 'rtsp:///stream1' (e.g. rtsp://192.0.2.10:554/stream1)"),
    ("http://:8080/x", "camera URL has no host: 'http://:8080/x' (e.g. rtsp://192.0.2.10:554/stream1)"),
    ("ftp://10.0.0.1/x", "unsupported camera URL scheme 'ftp' (streams: http, https, rtmp, rtsp, rtsps, tcp, udp)"),
])
def test_camera_url_without_a_host_or_with_another_scheme_is_refused(tmp_path: Path, source: str,
                                                                     problem: str) -> None:
    path = tmp_path / "box.yaml"
    path.write_text(f"rules_file: r.yaml\ncameras:\n  - id: c\n    source: {source}\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    assert info.value.lines == [f"{path}:4: cameras.0.source: Value error, {problem}"]


def test_a_command_line_url_without_a_host_is_refused_before_any_connection(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, "    source: rtsp://cam/1\n")
    assert main(["run", "--config", str(config), "--source", "rtsp://", "--no-kafka",
                 "--out", str(tmp_path / "out")]) == EXIT_CONFIG
    assert "--source: camera URL has no host: 'rtsp://'" in capsys.readouterr().err


def test_one_detector_setting_keeps_the_shipped_weights(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_text("rules_file: r.yaml\ncameras:\n  - {id: c, source: rtsp://cam/1}\n"
                    "detectors:\n  vehicle: {conf: 0.4}\n  plate: {imgsz: 320}\n")
    detectors = load_model(AppConfig, path).detectors
    assert (detectors.vehicle.weights, detectors.vehicle.conf) == ("yolov8n.onnx", 0.4)
    assert (detectors.plate.weights, detectors.plate.imgsz, detectors.plate.conf) == (
        "plate_detector_model_1.onnx", 320, 0.25)


def test_missing_detector_weights_fail_validate_config_as_run_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, "    source: rtsp://cam/1\n")
    config.write_text(config.read_text() + "detectors:\n  plate:\n    weights: nope.onnx\n")
    assert main(["validate-config", str(config)]) == EXIT_CONFIG
    [line] = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"{config}:9: detectors.plate.weights: model file not found: ") and "nope.onnx" in line


@pytest.mark.parametrize("name", ["notes.txt", "clip.mp4"])
def test_a_file_that_is_not_a_video_fails_validate_config_as_run_does(
        tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = _box(tmp_path, f"    source: {name}\n" + START)
    (config.parent / name).write_text("not a video, just text\n")
    checked, checked_err, ran, ran_err = _validate_then_run(config, tmp_path, capsys)
    message = (f"{config}:6: cameras.demo-cam-1.source: cannot open video (corrupt or unsupported codec): "
               f"{config.parent / name}")
    assert checked == EXIT_CONFIG and _error_lines(checked_err) == [message]
    assert ran == EXIT_INPUT and message in ran_err


def test_a_rules_file_given_as_the_box_config_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = _box(tmp_path, "    source: rtsp://cam/1\n").parent / "rules.yaml"
    assert main(["validate-config", str(rules)]) == EXIT_CONFIG
    [line] = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"{rules}: this is a zone rules file (it has `zones`), not a box config")


def test_empty_registry_path_is_an_error_not_no_registry(tmp_path: Path) -> None:
    _, rules, lines = _registry_path_error(tmp_path, '""')
    assert lines == [f"{rules}:4: registry_path: Value error, registry_path is empty: name the registry file, or "
                     "leave the key out for no registry"]


# From a fresh-user trial of validate-config: an OCR gate of 0, a health endpoint on 0.0.0.0, an empty file.
ONE_CAMERA = "rules_file: r.yaml\ncameras:\n  - {id: c, source: rtsp://cam/1}\n"


@pytest.mark.parametrize("value", ["0", "0.0", "0.1", "0.29", "-0.2"])
def test_an_ocr_gate_below_0_3_is_refused_with_the_reason(tmp_path: Path, value: str) -> None:
    path = tmp_path / "box.yaml"
    path.write_text(f"{ONE_CAMERA}ocr:\n  min_confidence: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    [line] = info.value.lines
    assert line.startswith(f"{path}:5: ocr.min_confidence: ")
    assert "below 0.3: a read this unsure fines the wrong person" in line and "default 0.55" in line


@pytest.mark.parametrize("value", [0.3, 0.55, 1])
def test_an_ocr_gate_from_0_3_to_1_loads(tmp_path: Path, value: float) -> None:
    path = tmp_path / "box.yaml"
    path.write_text(f"{ONE_CAMERA}ocr:\n  min_confidence: {value}\n")
    assert load_model(AppConfig, path).ocr.min_confidence == value


@pytest.mark.parametrize("host", ["0.0.0.0", "'::'", "192.168.1.20", "box.example", "''"])
def test_a_non_loopback_health_host_is_refused_unless_chosen(tmp_path: Path, host: str) -> None:
    path = tmp_path / "box.yaml"
    head = ONE_CAMERA + "health:\n  port: 9108\n"
    path.write_text(head + f"  host: {host}\n")
    with pytest.raises(ConfigError) as info:
        load_model(AppConfig, path)
    [line] = info.value.lines
    assert line.startswith(f"{path}:6: health.host: ") and "not a loopback address" in line
    assert "health.allow_non_loopback: true" in line
    path.write_text(head + f"  host: {host}\n  allow_non_loopback: true\n")
    assert load_model(AppConfig, path).health.allow_non_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost", "LOCALHOST"])
def test_a_loopback_health_host_needs_no_opt_in(tmp_path: Path, host: str) -> None:
    path = tmp_path / "box.yaml"
    path.write_text(f"{ONE_CAMERA}health:\n  host: {host}\n")
    health = load_model(AppConfig, path).health
    assert not health.allow_non_loopback and health.host == host


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n", "---\n", "~\n"])
def test_an_empty_box_config_says_so_with_line_1(tmp_path: Path, text: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "box.yaml"
    path.write_text(text)
    assert main(["validate-config", str(path)]) == EXIT_CONFIG
    [line] = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"{path}:1: the file is empty") and ":0:" not in line


def test_an_empty_rules_file_is_named_as_empty(tmp_path: Path) -> None:
    config = _box(tmp_path, "    source: rtsp://cam/1\n")
    rules = config.parent / "rules.yaml"
    rules.write_text("# zones to come\n")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    [line] = info.value.lines
    assert line.startswith(f"{rules}:1: the file is empty")

"""Bad input at the command line: one clear line on stderr, the documented exit code, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "lez-anpr"
DEMO = REPO / "configs" / "demo" / "demo.yaml"
EXIT_CONFIG, EXIT_INPUT, EXIT_BROKER, EXIT_MODELS = 2, 3, 4, 5


def lez(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LEZ_STATE_DIR=os.environ.get("LEZ_STATE_DIR", str(REPO / ".state")))
    command = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "pipeline.cli"]
    return subprocess.run([*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> list[str]:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    ours = [line for line in result.stderr.splitlines() if line.startswith("lez-anpr:")]
    assert len(ours) == 1, result.stderr[-2000:]
    return ours


def box_config(tmp_path: Path, extra: str = "", camera_extra: str = "") -> Path:
    path = tmp_path / "box.yaml"
    path.write_text(
        "site_id: test\n"
        f"rules_file: {REPO / 'configs' / 'demo' / 'rules.yaml'}\n"
        "cameras:\n"
        "  - id: demo-cam-1\n"
        "    source: clip.mp4\n"
        f"{camera_extra}{extra}", encoding="utf-8")
    return path


def test_unknown_key_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    config = box_config(tmp_path, camera_extra="    sourcee: typo.mp4\n")
    result = lez("validate-config", str(config))
    assert_clean_failure(result, EXIT_CONFIG)
    assert f"{config}:6: cameras.0.sourcee: Extra inputs are not permitted" in result.stderr


def test_wrong_type_exits_2(tmp_path: Path) -> None:
    config = box_config(tmp_path, extra="runtime:\n  queue_size: lots\n")
    result = lez("validate-config", str(config))
    assert_clean_failure(result, EXIT_CONFIG)
    assert f"{config}:7: runtime.queue_size:" in result.stderr


def test_yaml_syntax_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("site_id: x\ncameras: [\n", encoding="utf-8")
    result = lez("validate-config", str(config))
    assert_clean_failure(result, EXIT_CONFIG)
    assert "YAML syntax error" in result.stderr and str(config) in result.stderr


def test_bad_config_on_run_exits_2(tmp_path: Path) -> None:
    config = box_config(tmp_path, extra="tracking:\n  max_age: 2\n")
    result = lez("run", "--config", str(config), "--no-kafka", "--out", str(tmp_path / "out"))
    assert_clean_failure(result, EXIT_CONFIG)
    assert f"{config}:7: tracking.max_age" in result.stderr


def test_validate_demo_config() -> None:
    result = lez("validate-config", str(DEMO))
    assert result.returncode == 0, result.stderr
    assert "OK (1 camera(s)" in result.stdout


def test_validate_example_gateway_config_with_hanoi_rules() -> None:
    """The full gateway example uses the Hanoi pilot rules and registry (configs/hanoi/)."""
    config = REPO / "configs" / "example-gateway.yaml"
    if not config.exists():
        pytest.skip("no full gateway config in this checkout")
    result = lez("validate-config", str(config))
    assert result.returncode == 0, result.stderr
    assert ": OK (" in result.stdout


@pytest.mark.e2e
def test_missing_video_exits_3_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    result = lez("run", "--config", str(DEMO), "--source", str(missing), "--no-kafka", "--out", str(tmp_path / "o"))
    [line] = assert_clean_failure(result, EXIT_INPUT)
    assert "not found" in line and str(missing) in line


@pytest.mark.e2e
@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 2000], ids=["zero-byte", "garbage"])
def test_unusable_video_exits_3(tmp_path: Path, content: bytes) -> None:
    video = tmp_path / "bad.mp4"
    video.write_bytes(content)
    result = lez("run", "--config", str(DEMO), "--source", str(video), "--no-kafka", "--out", str(tmp_path / "o"))
    [line] = assert_clean_failure(result, EXIT_INPUT)
    assert str(video) in line


@pytest.mark.e2e
def test_unreachable_broker_exits_4_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    result = lez("run", "--config", str(DEMO), "--bootstrap", "127.0.0.1:1", "--out", str(tmp_path / "o"),
                 timeout=60)
    elapsed = time.monotonic() - started
    [line] = assert_clean_failure(result, EXIT_BROKER)
    assert line.startswith("lez-anpr: Kafka") and "127.0.0.1:1" in line
    assert elapsed < 20


def test_unknown_camera_id_is_a_config_error(tmp_path: Path) -> None:
    result = lez("run", "--config", str(DEMO), "--camera", "nope", "--no-kafka", "--out", str(tmp_path / "out"))
    assert_clean_failure(result, EXIT_CONFIG)
    assert "no camera with id 'nope' (known: demo-cam-1)" in result.stderr


@pytest.mark.parametrize("damage", ["missing", "truncated", "two-bytes-changed"])
def test_missing_or_damaged_model_file_exits_5(tmp_path: Path, damage: str) -> None:
    """Models are checked where they are loaded, before a frame is read: exit 5 and the command that fixes it."""
    models = Path(os.environ.get("LEZ_STATE_DIR", str(REPO / ".state"))) / "models"
    if not (models / "yolov8n.onnx").is_file():
        pytest.skip("models not extracted: run `make models`")
    state = tmp_path / "state"
    shutil.copytree(models, state / "models")
    target = state / "models" / "yolov8n.onnx"
    if damage == "missing":
        target.unlink()
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:1000])
    else:  # still loads as a model: only the pinned sha256 tells it is not the vetted one
        data = bytearray(target.read_bytes())
        data[-10] ^= 1
        data[-20] ^= 1
        target.write_bytes(bytes(data))
    env_state = {"LEZ_STATE_DIR": str(state)}
    command = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "pipeline.cli"]
    result = subprocess.run([*command, "run", "--config", str(DEMO), "--no-kafka", "--out", str(tmp_path / "out")],
                            cwd=REPO, env=dict(os.environ, **env_state), capture_output=True, text=True,
                            timeout=300, check=False)
    assert_clean_failure(result, EXIT_MODELS)
    assert "yolov8n.onnx" in result.stderr and ("make models" in result.stderr or "fetch-models" in result.stderr)


def test_eval_on_a_missing_or_non_folder_data_path_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    [line] = assert_clean_failure(lez("eval", "--data", str(missing)), EXIT_INPUT)
    assert f"--data {missing}: folder not found" in line
    (tmp_path / "labels.csv").write_text("set,file\n")
    [line] = assert_clean_failure(lez("eval", "--data", str(tmp_path / "labels.csv")), EXIT_INPUT)
    assert "not a folder" in line


def test_run_names_a_misspelt_weights_file_by_file_line_and_key_before_any_work(tmp_path: Path) -> None:
    """As validate-config does: the key's line, what was looked for where, and the shipped names (a typo is not
    fixed by fetching models)."""
    config = box_config(tmp_path, extra="detectors:\n  plate:\n    weights: plate_detecter.onnx\n")
    [line] = assert_clean_failure(lez("run", "--config", str(config), "--no-kafka", "--out", str(tmp_path / "o")),
                                  EXIT_MODELS)
    assert f"{config}:8: detectors.plate.weights: model file not found" in line
    assert "plate_detector_model_1.onnx" in line and "make models" not in line


def test_a_cuda_device_on_a_machine_without_one_fails_validate_config_and_run_alike(tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine's onnxruntime has CUDA")
    clip = tmp_path / "clip.mp4"
    shutil.copy(REPO / "sample_videos" / "demo_gateway.mp4", clip)
    config = box_config(tmp_path, extra="detectors:\n  vehicle:\n    device: cuda\n",
                        camera_extra="    start_time: '2026-01-05T07:00:00+07:00'\n")
    checked = lez("validate-config", str(config))
    assert checked.returncode == EXIT_CONFIG, checked.stdout + checked.stderr
    assert f"{config}:9: detectors.vehicle.device: cuda: onnxruntime has no CUDAExecutionProvider" in checked.stderr
    [line] = assert_clean_failure(lez("run", "--config", str(config), "--no-kafka", "--out", str(tmp_path / "o")),
                                  EXIT_MODELS)
    assert "detectors.vehicle.device" in line and "use device: cpu" in line


@pytest.mark.parametrize(("key", "weights", "said"), [("plate", "yolov8n.onnx", "is this the vehicle model?"),
                                                       ("vehicle", "plate_detector_model_1.onnx",
                                                        "is this the plate model?")])
def test_the_two_detectors_models_swapped_exit_5_naming_the_mix_up(tmp_path: Path, key: str, weights: str,
                                                                   said: str) -> None:
    """The vehicle model as the plate model would take every COCO object for a plate (and the other way round
    find no vehicle): both are shipped, pinned files, so only their class counts tell."""
    models = Path(os.environ.get("LEZ_STATE_DIR", str(REPO / ".state"))) / "models"
    if not (models / weights).is_file():
        pytest.skip("models not extracted: run `make models`")
    clip = tmp_path / "clip.mp4"
    shutil.copy(REPO / "sample_videos" / "demo_gateway.mp4", clip)
    config = box_config(tmp_path, extra=f"detectors:\n  {key}:\n    weights: {weights}\n",
                        camera_extra="    start_time: '2026-01-05T07:00:00+07:00'\n")
    [line] = assert_clean_failure(lez("run", "--config", str(config), "--no-kafka", "--out", str(tmp_path / "o"),
                                      timeout=120), EXIT_MODELS)
    assert said in line


def test_eval_loose_crop_views_are_checked_before_any_work(tmp_path: Path) -> None:
    """The largest values each option allows, together, would make 45,000 px crops (minutes and gigabytes per
    read): refused at once, as is a view option without --loose-crops."""
    [line] = assert_clean_failure(lez("eval", "--data", str(tmp_path), "--loose-crops", "5", "--plate-widths", "4096",
                                      "--tilt", "20"), EXIT_CONFIG)
    assert "makes crops about 45056 px wide: at most 8192" in line
    [line] = assert_clean_failure(lez("eval", "--data", str(tmp_path), "--tilt", "5"), EXIT_CONFIG)
    assert "give --loose-crops too" in line

"""Bad input, one by one: each gives a clear message, and everything else keeps running; nothing is lost.

Already covered elsewhere and not repeated: a missing, zero-byte or garbage video file on `run`
(tests/e2e/test_cli_errors.py), truncated files at the source level (tests/unit/test_pipeline_sources.py),
registry rows one by one (tests/unit/test_registry.py), YAML syntax / unknown key / wrong type in the config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from kafka import KafkaProducer

from pipeline.sources import SourceError, VideoFileSource
from sinks.embedded_broker import EmbeddedBroker
from sinks.kafka_sink import ensure_topics
from sinks.schema import TOPIC_VIOLATIONS, build_violation_message
from tests.unit.test_schema import make_ctx, make_decision, make_passage

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("LEZ_STATE_DIR", ROOT / ".state"))
START = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)


def lez(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "LEZ_STATE_DIR": str(STATE)}, check=False)


def our_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if line.startswith("lez-anpr:")]


def mjpeg_avi(path: Path, frames: int = 20) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (320, 240))
    for i in range(frames):
        image = np.full((240, 320, 3), 40, np.uint8)
        cv2.rectangle(image, (i * 10, 50), (i * 10 + 40, 100), (255, 255, 255), -1)
        writer.write(image)
    writer.release()
    return path


def test_unsupported_codec_is_one_clear_error(tmp_path: Path) -> None:
    """An AVI whose codec tag no decoder knows (the container is fine, the codec is not)."""
    good = mjpeg_avi(tmp_path / "good.avi")
    odd = tmp_path / "odd-codec.avi"
    odd.write_bytes(good.read_bytes().replace(b"MJPG", b"QQQQ"))
    with pytest.raises(SourceError, match="unsupported codec"):
        VideoFileSource(odd, "cam", START)
    result = lez("run", "--config", str(ROOT / "configs/demo/demo.yaml"), "--source", str(odd), "--no-kafka",
                 "--out", str(tmp_path / "o"), timeout=120)
    assert result.returncode == 3
    [line] = our_lines(result)
    assert "unsupported codec" in line and str(odd) in line


def test_a_frame_that_fails_to_decode_mid_stream_is_skipped_and_counted(tmp_path: Path) -> None:
    data = bytearray(mjpeg_avi(tmp_path / "clip.avi").read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]  # JPEG SOI per frame
    assert len(starts) == 20
    for j in range(starts[10], starts[10] + (starts[11] - starts[10]) // 2):
        data[j] = 0x5A  # frame 10's JPEG is now garbage; the container around it is intact
    broken = tmp_path / "broken.avi"
    broken.write_bytes(bytes(data))
    source = VideoFileSource(broken, "cam", START)
    frames = list(source.frames())
    assert len(frames) == 19 and source.decode_errors == 1  # every other frame still arrives
    assert source.stopped_early_reason == ""
    times = [f.event_time for f in frames]
    assert times == sorted(times) and (times[10] - times[9]).total_seconds() == pytest.approx(0.2, abs=0.01)


@pytest.mark.e2e
def test_truncated_files_on_run_say_what_happened(tmp_path: Path) -> None:
    """An mp4 cut before its index cannot be opened (exit 3, one line); an AVI cut in the middle is processed up
    to the cut and reported incomplete (exit 6) — what was decodable is not thrown away."""
    if not (STATE / "models" / "yolov8n.onnx").is_file():
        pytest.skip("models not extracted: run `make models` (make test does it)")
    demo = ROOT / "configs/demo/demo.yaml"
    clip = (ROOT / "sample_videos" / "demo_gateway.mp4").read_bytes()
    cut_mp4 = tmp_path / "cut.mp4"
    cut_mp4.write_bytes(clip[: len(clip) // 4])  # the writer puts the moov index at the end
    result = lez("run", "--config", str(demo), "--source", str(cut_mp4), "--no-kafka", "--out", str(tmp_path / "a"))
    assert result.returncode == 3
    [line] = our_lines(result)
    assert "cannot open video" in line and str(cut_mp4) in line

    avi = mjpeg_avi(tmp_path / "clip.avi").read_bytes()
    cut_avi = tmp_path / "cut.avi"
    cut_avi.write_bytes(avi[: len(avi) // 2])
    result = lez("run", "--config", str(demo), "--source", str(cut_avi), "--no-kafka", "--out", str(tmp_path / "b"))
    assert result.returncode == 6, result.stderr[-2000:]
    [line] = our_lines(result)
    assert "incomplete" in line and "of 20 declared (truncated or corrupt file)" in line
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0 < report["frames"] < 20 and report["status"] == "stopped"


def test_config_errors_in_health_and_live_sections_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "box.yaml"
    config.write_text(f"""site_id: t
rules_file: {ROOT / "configs/demo/rules.yaml"}
cameras:
  - id: cam
    source: clip.mp4
health:
  port: 70000
live:
  frame_deadline_s: -1
""")
    result = lez("validate-config", str(config), timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "health.port" in result.stderr and "live.frame_deadline_s" in result.stderr


def test_registry_with_broken_rows_loads_the_good_ones_and_names_the_bad(tmp_path: Path) -> None:
    rules = (ROOT / "configs/demo/rules.yaml").read_text()
    (tmp_path / "rules.yaml").write_text(rules)
    rows = (ROOT / "configs/demo/registry.csv").read_text().splitlines()
    good = [r for r in rows if r and not r.startswith("#")][1:]
    (tmp_path / "registry.csv").write_text("\n".join([
        *rows, "30B99999,spaceship,petrol,3,false,2020-01-01,,,", "30C99999,car,petrol,3", "garbage\x00row"]) + "\n")
    config = tmp_path / "box.yaml"
    # A live source: validate-config checks a file source exists (this test is about the registry rows).
    config.write_text("site_id: t\nrules_file: rules.yaml\ncameras:\n  - id: demo-cam-1\n    source: rtsp://cam/1\n")
    result = lez("validate-config", str(config), timeout=60)
    # `run` would load the good rows and go on; the checker says NOT OK (exit 2) with the count.
    assert result.returncode == 2, result.stderr
    assert f"{len(good)} registry record(s)" in result.stderr and "NOT OK: 3 registry row(s) skipped" in result.stderr
    skipped = [line for line in result.stderr.splitlines() if "registry row skipped" in line]
    assert len(skipped) == 3 and "spaceship" in skipped[0]
    assert "30B99999" not in result.stderr  # no plate text in the log


def test_consume_counts_garbage_and_wrong_schema_and_keeps_going(kafka_broker: EmbeddedBroker) -> None:
    with EmbeddedBroker(port=0) as broker:
        ensure_topics(broker.bootstrap, [TOPIC_VIOLATIONS])
        good = build_violation_message(make_passage(), make_decision(), make_ctx()).model_dump_json().encode()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        for value in (b"\xff\xfe garbage \x00", good, b'{"schema_version": "1", "plate": 3}', b"[1, 2", good):
            producer.send(TOPIC_VIOLATIONS, value=value).get(timeout=20)
        producer.close()
        result = lez("consume", "--bootstrap", broker.bootstrap, "--topic", TOPIC_VIOLATIONS, "--from-beginning",
                     "--json", "--max-idle-s", "3", timeout=60)
    assert result.returncode == 1  # invalid records were seen: the operator must look
    assert "Traceback" not in result.stderr
    assert "consumed 5 message(s): 1 valid, 3 invalid, 1 duplicate(s)" in result.stderr
    [line] = result.stdout.splitlines()  # the good one still printed, once
    assert json.loads(line)["violation_id"] == json.loads(good)["violation_id"]

"""`lez-anpr replay` end to end: real models on the committed demo clip, the real embedded broker.

Replay A runs uninterrupted and must reproduce the demo clip's golden file on the *audit* topics (the live topics
stay empty). Replay B is the same command stopped by SIGTERM mid-clip and then resumed from its checkpoint: its
messages (less the documented wall-clock fields) and its report files must equal A's — which proves both that two
replays agree and that resuming changes nothing. A truncated copy must replay up to the damage and exit 6.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.replay import AUDIT_TOPICS, deterministic_payload
from sinks.consume import consume
from sinks.embedded_broker import EmbeddedBroker
from sinks.kafka_sink import ensure_topics
from sinks.schema import (
    TOPIC_PLATE_READS,
    TOPIC_PLATE_READS_AUDIT,
    TOPIC_REVIEW,
    TOPIC_VIOLATIONS,
    TOPIC_VIOLATIONS_AUDIT,
)
from tests.e2e.golden import summarise
from tests.e2e.mp4_faststart import faststart

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "demo_gateway.mp4"
EXPECTED = ROOT / "sample_videos" / "demo_gateway.expected.json"
CONFIG = ROOT / "configs" / "demo" / "demo.yaml"
STATE = Path(os.environ.get("LEZ_STATE_DIR", ROOT / ".state"))
START = "2026-07-03T19:00:00+07:00"
LIVE_TOPICS = (TOPIC_VIOLATIONS, TOPIC_PLATE_READS, TOPIC_REVIEW)
REPORT_FILES = ("passages.jsonl", "passages.csv", "report.html")

pytestmark = pytest.mark.e2e


def replay_cmd(clip: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "replay", str(clip), "--camera", "demo-cam-1",
            "--start-time", START, "--out", str(out), "--config", str(CONFIG), *extra]


ENV = {**os.environ, "LEZ_STATE_DIR": str(STATE)}


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)


def summary_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def messages(out: Path, topic: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "messages" / f"{topic}.jsonl").read_text().splitlines()]


def consumed(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    buf, err = io.StringIO(), io.StringIO()
    stats = consume(bootstrap, topic, from_beginning=True, max_idle_s=4.0, as_json=True, out=buf, err=err)
    assert stats.invalid == 0, err.getvalue()
    return [json.loads(line) for line in buf.getvalue().splitlines()]


@pytest.fixture(scope="module")
def models() -> None:
    if not (STATE / "models" / "yolov8n.onnx").is_file():
        pytest.skip("models not extracted: run `make models` (make test does it)")


@pytest.fixture(scope="module")
def broker_a(kafka_broker: EmbeddedBroker) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(port=0) as broker:
        yield broker


@pytest.fixture(scope="module")
def replay_a(models: None, broker_a: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ensure_topics(broker_a.bootstrap, LIVE_TOPICS)  # they exist, so "empty" is measured, not assumed
    out = tmp_path_factory.mktemp("replay-a") / "audit"
    proc = run(replay_cmd(CLIP, out, "--bootstrap", broker_a.bootstrap))
    return {"proc": proc, "out": out, "bootstrap": broker_a.bootstrap}


@pytest.fixture(scope="module")
def replay_b(models: None, kafka_broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Interrupted by SIGTERM after a checkpoint past frame 100 (five passages done, the sixth in progress)."""
    out = tmp_path_factory.mktemp("replay-b") / "audit"
    with EmbeddedBroker(port=0) as broker:
        cmd = replay_cmd(CLIP, out, "--bootstrap", broker.bootstrap, "--checkpoint-every-s", "0")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline, checkpoint = time.monotonic() + 900, None
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                checkpoint = json.loads((out / "checkpoint.json").read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                checkpoint = None
            if checkpoint and checkpoint["next_seq"] >= 100:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=300)
        first = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
        stopped_at = out / "checkpoint.json"
        after_stop = json.loads(stopped_at.read_text()) if stopped_at.exists() else {"next_seq": -1}
        second = run(cmd)
    return {"first": first, "checkpoint_after_stop": after_stop, "second": second, "out": out}


def test_replay_completes_without_dropping_frames(replay_a: dict[str, Any]) -> None:
    proc = replay_a["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = summary_of(proc)
    assert summary["status"] == "complete" and summary["delivered"] is True
    assert summary["frames_decoded"] == summary["frames_declared"] == 150
    assert summary["dropped_frames"] == 0 and summary["decode_errors"] == 0
    assert summary["passages"] == 6 and summary["violations"] == 2 and summary["unreadable"] == 1
    assert "ETA" in proc.stderr  # the progress bar


def test_audit_messages_match_the_golden_file(replay_a: dict[str, Any], tmp_path: Path) -> None:
    # The golden summary reads the live topics' file names: present the audit files under them.
    for audit, live in ((TOPIC_PLATE_READS_AUDIT, TOPIC_PLATE_READS), (TOPIC_VIOLATIONS_AUDIT, TOPIC_VIOLATIONS)):
        shutil.copy(replay_a["out"] / "messages" / f"{audit}.jsonl", tmp_path / f"{live}.jsonl")
    assert summarise(tmp_path) == json.loads(EXPECTED.read_text())


def test_footage_time_stamps_every_event(replay_a: dict[str, Any]) -> None:
    for message in messages(replay_a["out"], TOPIC_PLATE_READS_AUDIT):
        assert message["captured_at_utc"].startswith("2026-07-03T12:00:")  # start time + container time, < 60 s
        assert message["captured_at_local"].startswith("2026-07-03T19:00:")


def test_audit_topics_carry_the_messages_and_live_topics_stay_empty(replay_a: dict[str, Any]) -> None:
    bootstrap = replay_a["bootstrap"]
    expected = json.loads(EXPECTED.read_text())
    violations = consumed(bootstrap, TOPIC_VIOLATIONS_AUDIT)
    assert sorted(v["violation_id"] for v in violations) == sorted(v["violation_id"] for v in expected["violations"])
    assert len(consumed(bootstrap, TOPIC_PLATE_READS_AUDIT)) == 6
    for topic in LIVE_TOPICS:
        assert consumed(bootstrap, topic) == [], topic


def test_report_is_self_contained_and_complete(replay_a: dict[str, Any]) -> None:
    out = replay_a["out"]
    rows = [json.loads(line) for line in (out / "passages.jsonl").read_text().splitlines()]
    html = (out / "report.html").read_text()
    csv_lines = (out / "passages.csv").read_text().splitlines()
    assert len(rows) == 6 and len(csv_lines) == 7  # header + one line per passage
    assert "Timeline" in html and "INCOMPLETE" not in html
    for row in rows:
        assert row["passage_id"] in html and row["passage_id"] in csv_lines[1 + rows.index(row)]
        kinds = {e["kind"] for e in row["evidence"]}
        assert {"frame", "plate_crop"} <= kinds
        for ref in row["evidence"]:
            assert (out / ref["path"]).is_file()  # inside the audit folder
            assert f"src='{ref['path']}'" in html
            assert ref["sha256"] in html
    violation = next(r for r in rows if r["violation_id"])
    assert violation["registry"]["fuel"] == "petrol" and violation["legal_reference"] in html
    assert {r["plate_status"] for r in rows} == {"read", "unreadable"}


def test_manifest_names_inputs_and_verify_passes(replay_a: dict[str, Any]) -> None:
    import hashlib

    out = replay_a["out"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["sha256"] == hashlib.sha256(CLIP.read_bytes()).hexdigest()
    assert len(manifest["config"]["sha256"]) == 64 and manifest["software_version"]
    assert {"vehicle_detector", "plate_detector"} <= manifest["models"].keys()
    assert not (out / "checkpoint.json").exists()
    proc = run([sys.executable, "-m", "pipeline.cli", "audit", "verify", str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout and "recording demo_gateway.mp4: sha256 matches" in proc.stderr


def test_verify_names_a_tampered_evidence_image_and_report(replay_a: dict[str, Any], tmp_path: Path) -> None:
    copy = tmp_path / "audit"
    shutil.copytree(replay_a["out"], copy)
    image = sorted((copy / "evidence").rglob("*.jpg"))[0]
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    with (copy / "passages.csv").open("a") as fh:
        fh.write("forged,row\n")
    proc = run([sys.executable, "-m", "pipeline.cli", "audit", "verify", str(copy)])
    assert proc.returncode == 1
    rel = image.relative_to(copy).as_posix()
    assert f"MISMATCH {rel}:" in proc.stdout and "MISMATCH passages.csv:" in proc.stdout
    assert "does NOT match" in proc.stderr


def test_interrupted_replay_resumes_to_the_same_result(replay_a: dict[str, Any], replay_b: dict[str, Any]) -> None:
    first, second = replay_b["first"], replay_b["second"]
    assert first.returncode == 6, first.stderr[-3000:]
    assert summary_of(first)["status"] == "interrupted" and summary_of(first)["signal"] == "SIGTERM"
    assert replay_b["checkpoint_after_stop"]["next_seq"] >= 100
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming the replay at frame" in second.stderr
    a, b = replay_a["out"], replay_b["out"]
    for topic in AUDIT_TOPICS:
        assert [deterministic_payload(m) for m in messages(b, topic)] == \
               [deterministic_payload(m) for m in messages(a, topic)], topic
    for name in REPORT_FILES:
        assert (b / name).read_bytes() == (a / name).read_bytes(), name
    manifest_a, manifest_b = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert manifest_b["evidence"] == manifest_a["evidence"]
    assert manifest_b["run"]["runs"] == 2 and manifest_b["result"] == manifest_a["result"]


def test_truncated_recording_replays_up_to_the_damage(models: None, tmp_path: Path) -> None:
    whole = tmp_path / "faststart.mp4"
    faststart(CLIP, whole)  # index first, as recorders write it: a truncated copy still opens
    data = whole.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: int(len(data) * 0.4)])
    out = tmp_path / "audit"
    proc = run(replay_cmd(truncated, out, "--no-progress"))
    assert proc.returncode == 6, proc.stderr[-3000:]
    summary = summary_of(proc)
    assert summary["status"] == "incomplete" and "truncated or corrupt" in summary["stop_reason"]
    assert 0 < summary["frames_decoded"] < 150 and summary["passages"] >= 1
    assert f"last good frame {summary['frames_decoded'] - 1} at footage" in summary["stop_reason"]
    html = (out / "report.html").read_text()
    assert "INCOMPLETE" in html and "truncated or corrupt" in html
    assert json.loads((out / "manifest.json").read_text())["result"]["status"] == "incomplete"
    assert "replay incomplete" in proc.stderr

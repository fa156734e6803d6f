"""End to end with real parts: real models on the committed demo clip, the real embedded Kafka broker.

The clip's ground truth (sample_videos/demo_gateway.truth.json) has six vehicles; the golden file says what the
pipeline must report for them, exactly, every run: two cars entering Area 1 on Friday 19:00 are fined, the exiting
motorbike and truck are compliant, the blue state plate is exempt, the glare-covered plate is unreadable (review).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sinks.consume import consume
from sinks.embedded_broker import EmbeddedBroker
from tests.e2e.golden import summarise

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "demo_gateway.mp4"
EXPECTED = ROOT / "sample_videos" / "demo_gateway.expected.json"
STATE = Path(os.environ.get("LEZ_STATE_DIR", ROOT / ".state"))

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_broker(kafka_broker: EmbeddedBroker) -> Iterator[EmbeddedBroker]:
    """A broker of this module's own: the session broker's topics carry other tests' messages."""
    with EmbeddedBroker(port=0) as broker:
        yield broker


@pytest.fixture(scope="module")
def demo_run(own_broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (STATE / "models" / "yolov8n.onnx").is_file():
        pytest.skip("models not extracted: run `make models` (make test does it)")
    kafka_broker = own_broker
    tmp = tmp_path_factory.mktemp("demo")
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(ROOT / "configs/demo/demo.yaml"),
           "--bootstrap", kafka_broker.bootstrap, "--out", str(tmp / "out"), "--outbox", str(tmp / "outbox.sqlite"),
           "--evidence-dir", str(tmp / "evidence")]
    env = {**os.environ, "LEZ_STATE_DIR": str(STATE)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return {"proc": proc, "out": tmp / "out", "evidence": tmp / "evidence", "bootstrap": kafka_broker.bootstrap}


def test_run_succeeds_and_reports(demo_run: dict[str, Any]) -> None:
    proc = demo_run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["status"] == "stopped" and report["delivered"] is True
    assert report["frames"] == 150 and report["dropped_frames"] == 0
    assert report["passages"] == 6 and report["violations"] == 2 and report["unreadable"] == 1


def test_messages_match_the_golden_file(demo_run: dict[str, Any]) -> None:
    expected = json.loads(EXPECTED.read_text())
    assert summarise(demo_run["out"]) == expected


def test_violations_arrive_on_the_topic_and_validate(demo_run: dict[str, Any]) -> None:
    out, err = io.StringIO(), io.StringIO()
    stats = consume(demo_run["bootstrap"], "lez.violations.v1", from_beginning=True, max_idle_s=4.0,
                    as_json=True, out=out, err=err)
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    expected = json.loads(EXPECTED.read_text())["violations"]
    assert stats.invalid == 0, err.getvalue()
    assert sorted(m["violation_id"] for m in messages) == sorted(v["violation_id"] for v in expected)
    schema = json.loads((ROOT / "schemas" / "violation.v1.json").read_text())
    for message in messages:
        jsonschema.validate(message, schema)
        assert message["captured_at_local"].endswith("+07:00")
        assert message["legal_reference"]


def test_evidence_is_stored_and_hashes_hold(demo_run: dict[str, Any]) -> None:
    import hashlib

    lines = (demo_run["out"] / "lez.violations.v1.jsonl").read_text().splitlines()
    for line in lines:
        refs = json.loads(line)["evidence"]
        assert {r["kind"] for r in refs} >= {"frame", "plate_crop"}
        for ref in refs:
            data = (demo_run["evidence"] / ref["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref["sha256"]

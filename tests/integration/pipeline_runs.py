"""Helpers for tests that run `lez-anpr run` as a child process on the demo clip and watch its /metrics."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from sinks.schema import TOPIC_CAMERA_HEALTH, TOPIC_PLATE_READS, TOPIC_REVIEW, TOPIC_VIOLATIONS

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("LEZ_STATE_DIR", ROOT / ".state"))
COUNTED = (TOPIC_VIOLATIONS, TOPIC_PLATE_READS)
TOPICS = [TOPIC_VIOLATIONS, TOPIC_PLATE_READS, TOPIC_REVIEW, TOPIC_CAMERA_HEALTH]


def box_config(tmp_path: Path, extra: str = "") -> Path:
    """The demo box with an ephemeral health endpoint and camera health every second."""
    if not (STATE / "models" / "yolov8n.onnx").is_file():
        pytest.skip("models not extracted: run `make models` (make test does it)")
    config = tmp_path / "box.yaml"
    config.write_text(f"""
site_id: fault-site
rules_file: {ROOT / "configs/demo/rules.yaml"}
cameras:
  - id: demo-cam-1
    source: {ROOT / "sample_videos/demo_gateway.mp4"}
    start_time: "2026-07-03T19:00:00+07:00"
health:
  port: 0
  publish_interval_s: 1
{extra}""")
    return config


class Run:
    """`lez-anpr run` as a child process, its stderr in a file, its /metrics read over 127.0.0.1."""

    def __init__(self, config: Path, bootstrap: str, tmp: Path, name: str) -> None:
        self.out = tmp / f"{name}-jsonl"
        self.stderr_path = tmp / f"{name}.stderr"
        cmd = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config), "--bootstrap", bootstrap,
               "--out", str(self.out), "--outbox", str(tmp / "outbox.sqlite"), "--evidence-dir",
               str(tmp / "evidence")]
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "LEZ_STATE_DIR": str(STATE)},
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        self.port = 0

    def metric(self, name: str) -> float:
        """Sum of a metric over its label sets (0 when the endpoint is not up yet)."""
        if not self.port:
            found = re.search(r"health endpoint on http://127\.0\.0\.1:(\d+)", self.stderr_path.read_text())
            if not found:
                return 0.0
            self.port = int(found.group(1))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return 0.0
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait(self, timeout_s: float = 600) -> tuple[int, dict[str, object]]:
        stdout, _ = self.proc.communicate(timeout=timeout_s)
        self._stderr.close()
        lines = stdout.decode().strip().splitlines()
        return self.proc.returncode, json.loads(lines[-1]) if lines else {}

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._stderr.close()

    def produced(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for topic in COUNTED:
            path = self.out / f"{topic}.jsonl"
            key = "violation_id" if topic == TOPIC_VIOLATIONS else "message_id"
            lines = path.read_text().splitlines() if path.exists() else []
            out[topic] = {json.loads(line)[key] for line in lines}
        return out


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, run: Run) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if run.proc.poll() is not None:
            raise AssertionError(f"the run ended while waiting for {what}: {run.stderr_path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)



"""Audit replay of real third-party footage: ../shared/data/videos/intel_car-detection.mp4 (768x432, 12.5 fps,
overhead car park, plates far too small to read) with configs/audit-intel/ (an entry line across the lot).

Every passage must come out `unreadable` (never a guessed plate), cars crossing the line must get a direction, and
nothing may be fined on an unreadable plate. Skipped where the shared data folder is absent (a fresh clone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VIDEO = ROOT.parent / "shared" / "data" / "videos" / "intel_car-detection.mp4"
CONFIG = ROOT / "configs" / "audit-intel" / "box.yaml"
STATE = Path(os.environ.get("LEZ_STATE_DIR", ROOT / ".state"))

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(not VIDEO.is_file(), reason=f"real footage not here: {VIDEO}")
def test_real_footage_replays_with_unreadable_passages_and_directions(tmp_path: Path) -> None:
    if not (STATE / "models" / "yolov8n.onnx").is_file():
        pytest.skip("models not extracted: run `make models` (make test does it)")
    out = tmp_path / "audit"
    cmd = [sys.executable, "-m", "pipeline.cli", "replay", str(VIDEO), "--config", str(CONFIG),
           "--camera", "intel-lot-1", "--start-time", "2026-07-03T19:00:00+07:00", "--out", str(out),
           "--no-progress"]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "LEZ_STATE_DIR": str(STATE)}, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "complete" and summary["dropped_frames"] == 0
    assert summary["frames_decoded"] == summary["frames_declared"] > 300
    assert summary["passages"] >= 3
    assert summary["unreadable"] == summary["passages"] and summary["violations"] == 0
    assert summary["directions"].get("entry", 0) + summary["directions"].get("exit", 0) >= 2
    rows = [json.loads(line) for line in (out / "passages.jsonl").read_text().splitlines()]
    assert all(r["plate_status"] == "unreadable" and r["plate_text"] is None for r in rows)
    assert {r["outcome"] for r in rows} <= {"needs_review", "not_applicable"}
    html = (out / "report.html").read_text()
    assert "unreadable" in html and "Timeline" in html
    verify = subprocess.run([sys.executable, "-m", "pipeline.cli", "audit", "verify", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr

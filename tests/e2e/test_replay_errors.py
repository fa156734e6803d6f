"""Replay and audit-verify mistakes a person can make: one clear line and an exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "demo_gateway.mp4"
START = "2026-07-03T19:00:00+07:00"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_unknown_camera_is_a_config_error(tmp_path: Path) -> None:
    proc = cli("replay", str(CLIP), "--camera", "nope", "--start-time", START, "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "camera 'nope' is not in" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_recording_is_bad_input(tmp_path: Path) -> None:
    proc = cli("replay", str(tmp_path / "none.mp4"), "--camera", "demo-cam-1", "--start-time", START,
               "--out", str(tmp_path / "a"))
    assert proc.returncode == 3 and "recording not found" in proc.stderr
    assert not (tmp_path / "a").exists()


def test_start_time_needs_an_offset(tmp_path: Path) -> None:
    proc = cli("replay", str(CLIP), "--camera", "demo-cam-1", "--start-time", "2026-07-03T19:00:00",
               "--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "needs a UTC offset" in proc.stderr


def test_a_folder_that_is_not_an_audit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("mine")
    proc = cli("replay", str(CLIP), "--camera", "demo-cam-1", "--start-time", START, "--out", str(tmp_path / "a"))
    assert proc.returncode == 3 and "not empty and holds no replay checkpoint" in proc.stderr
    assert (tmp_path / "a" / "notes.txt").read_text() == "mine"


def test_verify_of_a_missing_or_foreign_folder(tmp_path: Path) -> None:
    missing = cli("audit", "verify", str(tmp_path / "none"))
    assert missing.returncode == 3 and "audit folder not found" in missing.stderr
    foreign = cli("audit", "verify", str(tmp_path))
    assert foreign.returncode == 1 and "MISMATCH manifest.json: missing" in foreign.stdout

"""Offline proof (DESIGN §4): a full `lez-anpr run` with the real models makes no non-loopback connection attempt.

The child process gets a `sitecustomize.py` that installs an audit hook recording every socket connect / name
lookup whose host is not loopback, and the offline variables as they stand when ultralytics, onnxruntime and
rapidocr are first imported. The test does NOT set YOLO_OFFLINE & co.: the process must set them itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "lez-anpr"
DEMO = REPO / "configs" / "demo" / "demo.yaml"
CLIP = REPO / "sample_videos" / "demo_gateway.mp4"
OFFLINE_VARS = ("YOLO_OFFLINE", "HF_HUB_OFFLINE", "ORT_DISABLE_TELEMETRY", "YOLO_AUTOINSTALL", "YOLO_VERBOSE",
                "YOLO_CONFIG_DIR", "EASYOCR_MODULE_PATH", "MPLCONFIGDIR")

SITECUSTOMIZE = r'''
import ipaddress, json, os, socket, sys

_LOG = os.environ["LEZ_NET_AUDIT_LOG"]
_WATCHED = ("ultralytics", "onnxruntime", "rapidocr_onnxruntime", "easyocr", "torch", "huggingface_hub")
_seen = set()

def _write(record):
    with open(_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")

def _loopback(host):
    if host is None:
        return True  # passive lookup / bind: no remote host
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

def _hook(event, args):
    try:
        if event == "socket.connect" or event == "socket.sendto":
            sock, address = args[0], args[1]
            if getattr(sock, "family", None) == socket.AF_UNIX or isinstance(address, (str, bytes)):
                return
            if not _loopback(address[0]):
                _write({"event": event, "host": str(address[0]), "port": address[1]})
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                       "socket.gethostbyaddr"):
            if not _loopback(args[0]):
                _write({"event": event, "host": str(args[0])})
        elif event == "import" and args[0] in _WATCHED and args[0] not in _seen:
            _seen.add(args[0])
            _write({"event": "import", "module": args[0],
                    "env": {k: os.environ.get(k) for k in ("YOLO_OFFLINE", "HF_HUB_OFFLINE", "ORT_DISABLE_TELEMETRY")}})
    except Exception as exc:  # never break the process under test
        _write({"event": "hook-error", "error": repr(exc)})

sys.addaudithook(_hook)
_write({"event": "installed", "pid": os.getpid()})
'''


def child_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "net-audit.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARS}  # the pytest process has them set
    env.update(PYTHONPATH=os.pathsep.join([str(hook_dir), str(REPO)]), LEZ_NET_AUDIT_LOG=str(log),
               LEZ_STATE_DIR=os.environ.get("LEZ_STATE_DIR", str(REPO / ".state")))
    return env, log


def records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def short_clip(tmp_path: Path, frames: int = 15, first: int = 8) -> Path:
    """15 frames of the sample clip where a plated car crosses the gateway, re-encoded into tmp_path."""
    cap = cv2.VideoCapture(str(CLIP))
    fps = cap.get(cv2.CAP_PROP_FPS) or 12.5
    out = tmp_path / "short.mp4"
    writer = None
    index = 0
    while True:
        ok, image = cap.read()
        if not ok or index >= first + frames:
            break
        if index >= first:
            if writer is None:
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps,
                                         (image.shape[1], image.shape[0]))
            writer.write(image)
        index += 1
    cap.release()
    assert writer is not None, "could not read the sample clip"
    writer.release()
    return out


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "pipeline.cli"]
    return subprocess.run([*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def assert_offline(log: Path) -> None:
    recs = records(log)
    assert any(r["event"] == "installed" for r in recs), "audit hook was not installed in the child"
    assert not [r for r in recs if r["event"] == "hook-error"]
    outside = [r for r in recs if str(r["event"]).startswith("socket.")]
    assert outside == [], f"non-loopback network attempts: {outside}"
    imports = {r["module"]: r["env"] for r in recs if r["event"] == "import"}
    # Both detectors run straight on ONNX Runtime by default (ultralytics is no longer on the frame path; when a
    # config picks `type: ultralytics` it is imported and checked like the rest below).
    for module in ("onnxruntime", "rapidocr_onnxruntime"):
        assert module in imports, f"{module} was never imported: the run did not exercise the models"
    for module, seen_env in imports.items():
        expected = {"YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1"}
        assert seen_env == expected, f"{module} imported before the offline variables were set: {seen_env}"


def test_audit_hook_sees_a_non_loopback_lookup(tmp_path: Path) -> None:
    """The detector itself can fail: a lookup of a public name is recorded, one of localhost is not."""
    env, log = child_env(tmp_path)
    code = ("import socket\n"
            "for host in ('localhost', 'lez-anpr-offline-check.invalid'):\n"
            "    try: socket.getaddrinfo(host, 80)\n"
            "    except OSError: pass\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    hosts = [r["host"] for r in records(log) if r["event"] == "socket.getaddrinfo"]
    assert hosts == ["lez-anpr-offline-check.invalid"]


@pytest.mark.e2e
def test_full_run_makes_no_internet_connection_attempt(tmp_path: Path) -> None:
    env, log = child_env(tmp_path)
    out = tmp_path / "out"
    result = run_cli(env, "run", "--config", str(DEMO), "--source", str(short_clip(tmp_path)), "--no-kafka",
                     "--out", str(out), "--evidence-dir", str(tmp_path / "evidence"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "stopped" and report["frames"] == 15
    assert report["passages"] >= 1  # the models ran on real content, OCR included
    assert_offline(log)


@pytest.mark.e2e
@pytest.mark.integration
def test_full_run_with_kafka_makes_only_loopback_connections(tmp_path: Path, kafka_broker) -> None:  # type: ignore[no-untyped-def]
    env, log = child_env(tmp_path)
    result = run_cli(env, "run", "--config", str(DEMO), "--source", str(short_clip(tmp_path)),
                     "--bootstrap", kafka_broker.bootstrap, "--evidence-dir", str(tmp_path / "evidence"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["delivered"] is True and report["passages"] >= 1
    assert_offline(log)

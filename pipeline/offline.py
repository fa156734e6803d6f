"""The offline rule (DESIGN §4): set, in the process itself, before any model library is imported, the variables
that stop ultralytics, Hugging Face, onnxruntime and easyocr from reaching the internet, and point their config
and model folders into the project's state folder. `apply()` is idempotent and runs when `pipeline` is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "LEZ_STATE_DIR"


def state_dir() -> Path:
    """Where models, the outbox, evidence and library config live (default `.state` in the working folder)."""
    return Path(os.environ.get(STATE_DIR_ENV, ".state")).resolve()


def apply() -> None:
    state = state_dir()
    forced = {
        "YOLO_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "YOLO_AUTOINSTALL": "false",  # ultralytics must never pip-install anything at run time
        "YOLO_VERBOSE": "false",
    }
    for key, value in forced.items():
        os.environ[key] = value
    os.environ.setdefault("YOLO_CONFIG_DIR", str(state / "ultralytics"))
    os.environ.setdefault("EASYOCR_MODULE_PATH", str(state / "easyocr"))
    os.environ.setdefault("MPLCONFIGDIR", str(state / "matplotlib"))
    # FFmpeg and OpenCV print their own lines for every damaged packet or missing file ("moov atom not found",
    # "findDecoder imread_"); our sources count and report those failures in one clear line instead.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

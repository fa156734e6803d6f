"""Still images: decoded whole, or refused with the reason (a JPEG cut short is not decoded half grey)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.stills import StillError, jpeg_is_truncated, load_still


def _jpeg(progressive: bool = False, restart_interval: int = 0) -> bytes:
    image = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    params = [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive), cv2.IMWRITE_JPEG_RST_INTERVAL, restart_interval]
    ok, encoded = cv2.imencode(".jpg", image, params)
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize(("progressive", "restarts"), [(False, 0), (True, 0), (False, 2)])
def test_a_whole_jpeg_is_whole_and_one_cut_anywhere_is_not(progressive: bool, restarts: int) -> None:
    data = _jpeg(progressive, restarts)
    assert not jpeg_is_truncated(data)
    assert not jpeg_is_truncated(data + b"camera data after the image \xff\xda\x00\x08")  # after EOI: not looked at
    for cut in (3, 20, len(data) // 3, len(data) // 2, len(data) - 2):
        assert jpeg_is_truncated(data[:cut]), cut


def test_what_is_not_a_jpeg_is_left_to_the_decoder() -> None:
    png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    assert not jpeg_is_truncated(png) and not jpeg_is_truncated(b"") and not jpeg_is_truncated(b"\xff")


def test_load_still_says_why_a_file_cannot_be_used(tmp_path: Path) -> None:
    whole, cut, text = tmp_path / "whole.jpg", tmp_path / "cut.jpg", tmp_path / "notes.jpg"
    data = _jpeg()
    whole.write_bytes(data)
    cut.write_bytes(data[: len(data) // 2])
    text.write_text("not an image")
    assert load_still(whole).shape == (96, 160, 3)
    cases = {cut: "ends before its end-of-image marker", text: "not an image, or damaged",
             tmp_path / "gone.jpg": "file not found", tmp_path: "is a folder"}
    if os.path.exists("/dev/null"):
        cases[Path("/dev/null")] = "not a regular file"
    for path, reason in cases.items():
        with pytest.raises(StillError, match=reason):
            load_still(path)


def test_grey_and_16_bit_files_come_out_8_bit_bgr(tmp_path: Path) -> None:
    grey16 = tmp_path / "grey16.png"
    cv2.imwrite(str(grey16), np.full((10, 20), 40000, np.uint16))
    image = load_still(grey16)
    assert image.shape == (10, 20, 3) and image.dtype == np.uint8

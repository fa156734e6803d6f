"""Permit payloads as QR codes: render one for the operator to print, read them back from a photo or a crop.

OpenCV's own QR encoder and detector (no extra dependency). Reading returns only payloads that look like signed
permits (`LEZP1.…`); whether one is genuine is decided by `rules.permits` with the key, never here.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from rules.permits import is_signed_permit

Image = npt.NDArray[np.uint8]


def render_qr(payload: str, module_px: int = 8, border_modules: int = 4) -> Image:
    """A black-on-white grey image of the payload's QR code, with the quiet zone scanners need."""
    if module_px < 1 or border_modules < 0:
        raise ValueError("module_px must be >= 1 and border_modules >= 0")
    code: Any = cv2.QRCodeEncoder.create().encode(payload)
    if code is None or code.size == 0:
        raise ValueError("payload too long for a QR code")
    modules = np.asarray(code, dtype=np.uint8)
    big = cv2.resize(modules, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    pad = border_modules * module_px
    framed: Image = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    return framed


def read_permit_payloads(image: Image) -> tuple[str, ...]:
    """Every signed-permit payload found in a BGR or grey image, in detection order, without duplicates."""
    if image.size == 0:
        return ()
    found: list[str] = []
    for attempt in _attempts(image):
        for text in _decode(attempt):
            if text and is_signed_permit(text) and text not in found:
                found.append(text)
        if found:
            break
    return tuple(found)


def _attempts(image: Image) -> list[Image]:
    """The image, then half its size: OpenCV's detector misses some crisp large codes at full scale (seen on
    codes this module renders itself) and finds them once the modules are smaller."""
    half: Image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return [image, half] if min(half.shape[:2]) >= 21 else [image]


def _decode(image: Image) -> list[str]:
    texts: list[str] = []
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        ok, multi, _points, _ = detector.detectAndDecodeMulti(image)
        texts += [t for t in multi if t] if ok else []
        if not texts:
            text, _pts, _ = detector.detectAndDecode(image)
            texts += [text] if text else []
        if texts:
            break
    return texts

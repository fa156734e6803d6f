"""A permit's QR code, printed and photographed: read back from a scene, then verified by the engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pipeline.cli import main
from pipeline.permit_qr import read_permit_payloads, render_qr
from rules.permits import SignedPermit, sign_permit
from rules.types import Outcome
from tests.unit.test_rule_engine import passage
from tests.unit.test_rule_engine_more import ENGINE, KEY

PAYLOAD = sign_permit(SignedPermit("P-QR-1", "30A12345", ("hk-area1",), date(2026, 7, 1), date(2026, 7, 31)), KEY)


def _scene(qr: np.ndarray[Any, np.dtype[np.uint8]], angle_deg: float, scale: float) -> np.ndarray[Any, Any]:
    """The QR sticker on a grey textured windscreen, scaled, rotated and slightly blurred like a camera sees it."""
    rng = np.random.default_rng(3)
    scene = rng.integers(60, 120, size=(720, 1280, 3), dtype=np.uint8)
    sticker = cv2.cvtColor(cv2.resize(qr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
    h, w = sticker.shape[:2]
    scene[200:200 + h, 500:500 + w] = sticker
    turn = cv2.getRotationMatrix2D((500 + w / 2, 200 + h / 2), angle_deg, 1.0)
    scene = cv2.warpAffine(scene, turn, (1280, 720), borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(scene, (3, 3), 0)


@pytest.mark.parametrize(("angle", "scale"), [(0.0, 1.0), (12.0, 0.8), (-20.0, 0.7)])
def test_qr_in_a_scene_is_read_and_exempts(angle: float, scale: float) -> None:
    payloads = read_permit_payloads(_scene(render_qr(PAYLOAD), angle, scale))
    assert payloads == (PAYLOAD,)
    decision = ENGINE.decide(replace(passage("30A12345"), permit_payloads=payloads))
    assert decision.outcome is Outcome.EXEMPT and decision.permit_id == "P-QR-1"


def test_tampered_qr_is_read_but_rejected() -> None:
    prefix, body, mac = PAYLOAD.split(".")
    forged = ".".join((prefix, body[:-2] + ("AA" if body[-2:] != "AA" else "BB"), mac))
    payloads = read_permit_payloads(_scene(render_qr(forged), 0.0, 1.0))
    assert payloads == (forged,)
    decision = ENGINE.decide(replace(passage("30A12345"), permit_payloads=payloads))
    assert decision.outcome is Outcome.VIOLATION
    assert any(r in decision.reasons for r in ("permit: bad signature", "permit: malformed"))


def test_other_qr_codes_and_empty_images_give_nothing() -> None:
    assert read_permit_payloads(_scene(render_qr("https://example.invalid/menu"), 0.0, 1.0)) == ()
    assert read_permit_payloads(np.full((100, 100, 3), 128, np.uint8)) == ()
    assert read_permit_payloads(np.zeros((0, 0, 3), np.uint8)) == ()


def test_issue_writes_a_qr_and_verify_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEZ_PERMIT_KEY", KEY.decode())
    qr = tmp_path / "permit.png"
    assert main(["permit", "issue", "--id", "P-QR-2", "--plate", "30A12345", "--zone", "hk-area1",
                 "--from", "2026-07-01", "--to", "2026-07-31", "--qr", str(qr)]) == 0
    capsys.readouterr()
    assert main(["permit", "verify", "--image", str(qr), "--plate", "30A12345", "--zone", "hk-area1",
                 "--on", "2026-07-03"]) == 0
    assert '"status": "valid"' in capsys.readouterr().out
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((50, 50), 255, np.uint8))
    assert main(["permit", "verify", "--image", str(blank)]) == 3
    assert "no permit QR code found" in capsys.readouterr().err


def test_every_rendered_code_reads_back_straight_from_the_file() -> None:
    """OpenCV's detector missed some crisp full-size codes this module renders (about 1 in 15); the reader
    retries at half scale and with the ArUco-based detector."""
    payloads = [sign_permit(SignedPermit(f"P{i}", "30A12345", ("hk-area1",), date(2026, 7, 1), date(2026, 7, 31)),
                            KEY) for i in range(1, 46)]
    unread = [p for p in payloads if read_permit_payloads(render_qr(p)) != (p,)]
    assert unread == []

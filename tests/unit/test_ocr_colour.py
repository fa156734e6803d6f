"""Plate background colour on plates the repo renders itself: each class, loose crops, and warm light."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr.colour import PlateColourClassifier
from rules.types import PlateColour
from sample_videos.plates import Layout, PlateSpec, render_plate
from sample_videos.plates import PlateColour as RenderColour

CASES = [("30A12345", Layout.CAR_ONE_LINE), ("30K56789", Layout.CAR_TWO_LINE), ("29AA12345", Layout.MOTORBIKE)]


def _render(compact: str, layout: Layout, colour: RenderColour) -> np.ndarray:
    return render_plate(PlateSpec(compact, layout, colour), px_per_mm=0.6)


def _in_loose_crop(plate: np.ndarray, body_bgr: tuple[int, int, int] = (40, 40, 45)) -> np.ndarray:
    """The plate inside a detector-style loose box: 30% of dark vehicle body around it."""
    h, w = plate.shape[:2]
    canvas = np.full((int(h * 1.6), int(w * 1.6), 3), body_bgr, np.uint8)
    y, x = int(h * 0.3), int(w * 0.3)
    canvas[y:y + h, x:x + w] = plate
    return canvas


def _warm_light(image: np.ndarray, strength: float) -> np.ndarray:
    """Tungsten-like light: more red, less blue, the whole scene dimmer."""
    gains = np.array([1.0 - 0.45 * strength, 1.0 - 0.12 * strength, 1.0], np.float32) * 0.85
    return np.clip(image.astype(np.float32) * gains, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("compact", "layout"), CASES)
@pytest.mark.parametrize("colour", list(RenderColour))
def test_each_colour_on_each_layout(compact: str, layout: Layout, colour: RenderColour) -> None:
    result = PlateColourClassifier().classify(_render(compact, layout, colour))
    assert result.colour is PlateColour(colour.value)
    assert result.confidence >= 0.5


@pytest.mark.parametrize("colour", [RenderColour.WHITE, RenderColour.YELLOW, RenderColour.BLUE])
def test_loose_crop_with_dark_vehicle_body(colour: RenderColour) -> None:
    crop = _in_loose_crop(_render("30A12345", Layout.CAR_ONE_LINE, colour))
    assert PlateColourClassifier().classify(crop).colour is PlateColour(colour.value)


@pytest.mark.parametrize("strength", [0.3, 0.5])
def test_white_plate_under_warm_light_is_never_yellow(strength: float) -> None:
    plate = _warm_light(_render("30A12345", Layout.CAR_ONE_LINE, RenderColour.WHITE), strength)
    raw_b = float(cv2.cvtColor(plate, cv2.COLOR_BGR2LAB)[..., 2].astype(np.float32).mean()) - 128
    assert raw_b > 8, "the tint must really look warm for this test to mean anything"
    assert PlateColourClassifier().classify(plate).colour in (PlateColour.WHITE, PlateColour.UNCERTAIN)


def test_green_only_when_enabled() -> None:
    plate = _render("30A12345", Layout.CAR_ONE_LINE, RenderColour.WHITE)
    green = plate.copy()
    background = plate.mean(axis=2) > 128
    green[background] = (60, 170, 40)
    assert PlateColourClassifier().classify(green).colour is not PlateColour.GREEN
    enabled = frozenset({PlateColour.WHITE, PlateColour.YELLOW, PlateColour.GREEN})
    assert PlateColourClassifier(enabled=enabled).classify(green).colour is PlateColour.GREEN


def test_tiny_or_empty_crop_is_uncertain() -> None:
    assert PlateColourClassifier().classify(np.zeros((3, 3, 3), np.uint8)).colour is PlateColour.UNCERTAIN

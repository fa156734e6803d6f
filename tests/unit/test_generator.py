"""The sample-clip generator is deterministic and its committed outputs agree with their truth files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from sample_videos.clips import CLIPS, DEMO
from sample_videos.generate import frame_digest, render_clip
from sample_videos.plates import Layout, PlateColour, PlateSpec, display_lines, render_plate

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_videos"


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def test_render_plate_is_deterministic() -> None:
    spec = PlateSpec("29AA12345", Layout.MOTORBIKE, PlateColour.YELLOW)
    assert _digest(render_plate(spec)) == _digest(render_plate(spec))


@pytest.mark.parametrize(
    ("compact", "layout", "aspect"),
    [("30A12345", Layout.CAR_ONE_LINE, 520 / 110), ("30K56789", Layout.CAR_TWO_LINE, 330 / 165),
     ("29AA12345", Layout.MOTORBIKE, 190 / 140), ("29B11234", Layout.MOTORBIKE, 190 / 140)],
)
def test_plate_aspect_matches_layout(compact: str, layout: Layout, aspect: float) -> None:
    img = render_plate(PlateSpec(compact, layout), px_per_mm=2.0)
    assert img.dtype == np.uint8 and img.shape[2] == 3
    assert img.shape[1] / img.shape[0] == pytest.approx(aspect, rel=0.01)


@pytest.mark.parametrize(
    ("compact", "layout", "lines"),
    [("30A12345", Layout.CAR_ONE_LINE, ("30A-123.45",)), ("29A1234", Layout.CAR_ONE_LINE, ("29A-1234",)),
     ("30K56789", Layout.CAR_TWO_LINE, ("30K", "567.89")), ("29AA12345", Layout.MOTORBIKE, ("29-AA", "123.45")),
     ("29B112345", Layout.MOTORBIKE, ("29-B1", "123.45")), ("54T15417", Layout.MOTORBIKE, ("54-T1", "5417"))],
)
def test_display_lines(compact: str, layout: Layout, lines: tuple[str, ...]) -> None:
    assert display_lines(compact, layout) == lines


@pytest.mark.parametrize("bad", ["30A-123.45", "3A12345", "30A123", "29B112345"])
def test_bad_plate_text_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        PlateSpec(bad, Layout.CAR_ONE_LINE)  # "29B112345" is a motorbike text, not a car one


def test_plate_colours_differ() -> None:
    centres = {c: render_plate(PlateSpec("30A12345", Layout.CAR_ONE_LINE, c))[16, 30].tolist() for c in PlateColour}
    assert len({tuple(v) for v in centres.values()}) == len(PlateColour)


def test_short_generation_is_deterministic() -> None:
    clip = replace(DEMO, n_frames=10)
    first = [(frame_digest(f.image), sorted(f.objects)) for f in render_clip(clip)]
    second = [(frame_digest(f.image), sorted(f.objects)) for f in render_clip(clip)]
    assert len(first) == 10
    assert first == second
    assert len({d for d, _ in first}) == 10  # frames actually change (vehicles move, noise differs)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: c.name)
def test_committed_clip_matches_truth(clip: object) -> None:
    name = clip.name  # type: ignore[attr-defined]
    truth = json.loads((SAMPLE_DIR / f"{name}.truth.json").read_text(encoding="utf-8"))
    meta = truth["clip"]
    cap = cv2.VideoCapture(str(SAMPLE_DIR / meta["file"]))
    assert cap.isOpened()
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(meta["fps"], rel=1e-3)
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (meta["height"], meta["width"], 3)
        count += 1
    cap.release()
    assert count == meta["frame_count"] == clip.n_frames  # type: ignore[attr-defined]
    assert meta["duration_s"] == pytest.approx(count / meta["fps"], abs=1e-3)
    ids = [v["id"] for v in truth["vehicles"]]
    assert len(ids) == len(set(ids))
    for v in truth["vehicles"]:
        assert 0 <= v["first_frame"] <= v["line_cross_frame"] <= v["last_frame"] < count
        assert v["layout"] == ("one_line" if len(v["plate_display_lines"]) == 1 else "two_line")
        assert v["direction"] in ("entry", "exit")
        frames = [t["frame"] for t in v["track"]]
        assert frames == list(range(v["first_frame"], v["last_frame"] + 1))
        centre = [(t["vehicle_xyxy"][1] + t["vehicle_xyxy"][3]) / 2 for t in v["track"]]
        moves_down = centre[-1] > centre[0]
        assert moves_down == ((v["direction"] == "entry") == (meta["entry_motion"] == "top_to_bottom"))
        if v["readable"]:
            assert v["plate_first_frame"] is not None and v["max_plate_width_px"] >= 90


def test_demo_covers_the_required_cases() -> None:
    truth = json.loads((SAMPLE_DIR / "demo_gateway.truth.json").read_text(encoding="utf-8"))
    vs = truth["vehicles"]
    assert any(v["layout"] == "one_line" and v["plate_colour"] == "white" and v["readable"] for v in vs)
    assert any(v["plate_format"] == "car_two_line" and v["plate_colour"] == "white" for v in vs)
    assert any(v["vehicle_class"] == "motorcycle" and v["plate_colour"] == "white" for v in vs)
    assert {"yellow", "blue"} <= {v["plate_colour"] for v in vs}
    assert any(not v["readable"] for v in vs)
    assert {"entry", "exit"} == {v["direction"] for v in vs}


def test_a_footless_one_keeps_only_its_stem_below_the_middle() -> None:
    from sample_videos.plates import PlateFace, _glyph_mask

    footed, footless = _glyph_mask("1"), _glyph_mask("1", PlateFace(footless_one=True))
    assert footed.shape == footless.shape  # same cell: the stem is not stretched across it
    h = footed.shape[0]
    near_bottom = int(h * 0.95)
    assert (footless[near_bottom] > 127).sum() < 0.5 * (footed[near_bottom] > 127).sum()  # the foot is gone
    assert (footless[: h // 2] == footed[: h // 2]).all()  # the flag and stem are untouched
    assert (_glyph_mask("7", PlateFace(footless_one=True)) == _glyph_mask("7")).all()


def test_another_face_changes_the_characters_not_the_plate() -> None:
    from pathlib import Path

    from sample_videos.plates import PlateFace

    spec = PlateSpec("29B112345", Layout.MOTORBIKE)
    liberation = Path(__file__).resolve().parents[2] / "training" / "fonts" / "LiberationSans-Regular.ttf"
    default, other = render_plate(spec, 1.0), render_plate(spec, 1.0, PlateFace(liberation, True))
    assert default.shape == other.shape
    assert (default != other).any(axis=2).mean() > 0.02


def test_a_thin_spaced_face_has_less_ink_and_narrower_characters() -> None:
    from sample_videos.plates import PlateFace

    spec = PlateSpec("29B112345", Layout.MOTORBIKE)
    bold = render_plate(spec, 2.0).min(axis=2) < 100
    thin = render_plate(spec, 2.0, PlateFace(None, True, thin_px=4, width_share=0.8)).min(axis=2) < 100
    inner = (slice(12, -12), slice(12, -12))  # inside the plate's printed border
    assert thin[inner].sum() < 0.8 * bold[inner].sum()
    # Thinning must not erase a character or break one apart (thin horizontals: the middle of an 8, a 3).
    import cv2

    def pieces(mask: np.ndarray) -> int:
        count, _ = cv2.connectedComponents(mask[inner].astype(np.uint8))
        return int(count)

    assert pieces(thin) == pieces(bold)

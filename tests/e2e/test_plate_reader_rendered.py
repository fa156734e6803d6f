"""The OCR path alone (real PP-OCR) on plates the repo renders: layouts, colours, loose crops, unreadable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ocr.colour import PlateColourClassifier
from ocr.engines import RapidOcrEngine
from ocr.plate_reader import PlateReader, ScoredPlateRead
from ocr.views import OCCLUSIONS, occluded, scaled, tilted
from rules.types import PlateColour, PlateLayout, ReadStatus
from sample_videos.plates import Layout, PlateSpec, obscure_plate, render_plate
from sample_videos.plates import PlateColour as RenderColour
from sample_videos.scene import motion_blur, plate_on_car_rear

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(RapidOcrEngine(), PlateColourClassifier())


def _loose(plate: np.ndarray, margin: float = 0.15) -> np.ndarray:
    h, w = plate.shape[:2]
    my, mx = int(h * margin), int(w * margin)
    return cv2.copyMakeBorder(plate, my, my, mx, mx, cv2.BORDER_CONSTANT, value=(60, 60, 60))


@pytest.mark.parametrize(("compact", "layout", "colour", "lines", "plate_layout"), [
    ("30A12345", Layout.CAR_ONE_LINE, RenderColour.WHITE, ("30A-123.45",), PlateLayout.ONE_LINE),
    ("29H45678", Layout.CAR_ONE_LINE, RenderColour.YELLOW, ("29H-456.78",), PlateLayout.ONE_LINE),
    ("80A01234", Layout.CAR_ONE_LINE, RenderColour.BLUE, ("80A-012.34",), PlateLayout.ONE_LINE),
    ("30K56789", Layout.CAR_TWO_LINE, RenderColour.WHITE, ("30K", "567.89"), PlateLayout.TWO_LINE),
])
def test_reads_rendered_plates_exactly(reader: PlateReader, compact: str, layout: Layout, colour: RenderColour,
                                       lines: tuple[str, ...], plate_layout: PlateLayout) -> None:
    read = reader.read(_loose(render_plate(PlateSpec(compact, layout, colour), px_per_mm=0.5)))
    assert read.status is ReadStatus.READ, read.reason
    assert read.text == compact
    assert read.lines == lines
    assert read.layout is plate_layout
    assert read.colour is PlateColour(colour.value)


def test_glare_and_mud_is_unreadable_not_a_guess(reader: PlateReader) -> None:
    plate = render_plate(PlateSpec("30E88816", Layout.CAR_ONE_LINE), px_per_mm=0.5)
    read = reader.read(obscure_plate(plate, seed=3))
    assert read.status is ReadStatus.UNREADABLE
    assert read.text == "" and read.reason


def test_read_plates_cli_prints_one_json_line_per_image(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), _loose(render_plate(PlateSpec("30A12345", Layout.CAR_ONE_LINE), px_per_mm=0.5)))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    missing = tmp_path / "missing.png"
    cut_short = tmp_path / "cut_short.jpg"  # OpenCV would decode it with its lower half grey
    jpeg = cv2.imencode(".jpg", cv2.imread(str(good)))[1].tobytes()
    cut_short.write_bytes(jpeg[:len(jpeg) // 2])
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "read-plates", str(good), str(bad), str(missing),
                           str(tmp_path), str(cut_short), "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(good), str(bad), str(missing), str(tmp_path), str(cut_short)]
    assert "ends before its end-of-image marker" in rows[4]["error"]
    assert rows[1]["error"].startswith("cannot read image") and rows[2]["error"] == "file not found"
    assert rows[3]["error"] == f"is a folder: give its images (e.g. {tmp_path}/*.jpg)"
    assert rows[0]["text"] == "30A12345" and rows[0]["colour"] == "white" and rows[0]["lines"] == ["30A-123.45"]
    assert {"confidence", "candidates", "lines", "char_confidences"} <= rows[0].keys()
    assert len(rows[0]["char_confidences"]) == len(rows[0]["text"])
    assert rows[1]["error"] and proc.returncode != 0


def _at_width(image: np.ndarray, width_px: int) -> np.ndarray:
    return scaled(image, width_px / image.shape[1])


SPECS = [PlateSpec("30A12345", Layout.CAR_ONE_LINE), PlateSpec("30K56789", Layout.CAR_TWO_LINE),
         PlateSpec("29AA12345", Layout.MOTORBIKE), PlateSpec("59X312345", Layout.MOTORBIKE, RenderColour.YELLOW)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.layout.value)
@pytest.mark.parametrize("angle", [-6.0, 0.0, 5.0])
@pytest.mark.parametrize("width", [60, 140, 400, 800])
def test_loose_tilted_crops_from_60_to_800_px_read_exactly(reader: PlateReader, spec: PlateSpec, angle: float,
                                                           width: int) -> None:
    crop = _at_width(_loose(tilted(render_plate(spec, px_per_mm=3.0), angle)), width)
    read = reader.read_loose(crop)  # what read-plates runs
    assert read.status is ReadStatus.READ, read.reason
    assert read.text == spec.compact
    assert read.colour is PlateColour(spec.colour.value)
    assert len(read.char_confidences) == len(read.text)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.layout.value)
@pytest.mark.parametrize("width", [20, 30, 40])
def test_tiny_crops_are_read_right_or_unreadable_never_misread(reader: PlateReader, spec: PlateSpec,
                                                               width: int) -> None:
    read = reader.read_loose(_at_width(_loose(tilted(render_plate(spec, px_per_mm=3.0), 4.0)), width))
    assert read.text in ("", spec.compact)
    if read.status is ReadStatus.UNREADABLE:
        assert read.reason
    assert read.colour in (PlateColour(spec.colour.value), PlateColour.UNCERTAIN)


def test_twenty_px_plate_is_too_small_and_claims_no_colour(reader: PlateReader) -> None:
    read = reader.read(_at_width(render_plate(PlateSpec("30A12345", Layout.CAR_ONE_LINE), px_per_mm=2.0), 20))
    assert read.status is ReadStatus.UNREADABLE and "too small" in read.reason
    assert read.colour is PlateColour.UNCERTAIN


@pytest.mark.parametrize("channels", [1, 3])
def test_a_crop_of_noise_holds_no_plate_and_claims_no_colour(reader: PlateReader, channels: int) -> None:
    # A fresh-user trial: colour noise read-plates'd as "no text found" but "blue" at 1.0.
    noise = np.random.default_rng(0).integers(0, 256, (120, 400, channels), dtype=np.uint8)
    read = reader.read_loose(cv2.cvtColor(noise, cv2.COLOR_GRAY2BGR) if channels == 1 else noise)
    assert read.status is ReadStatus.UNREADABLE and read.text == ""
    assert read.colour is PlateColour.UNCERTAIN and read.colour_confidence == 0.0


def test_motion_blurred_two_line_plate_is_read_from_its_lines(reader: PlateReader) -> None:
    """The fault seen on real video frames: PP-OCR's text detector finds no text on a blurred two-line plate.
    Cutting the lines by geometry and running the recogniser alone still reads it."""
    plate = render_plate(PlateSpec("29AA12345", Layout.MOTORBIKE), px_per_mm=1.0)
    blurred = motion_blur(_loose(tilted(plate, -5.0)), 9.0)
    read = reader.read(blurred)
    assert read.status is ReadStatus.READ, read.reason
    assert read.text == "29AA12345"


@pytest.mark.parametrize(("compact", "lines"), [("54T15417", ("54-T1", "5417")), ("61T32222", ("61-T3", "2222"))])
def test_old_motorbike_plate_is_displayed_as_read_not_as_a_car(reader: PlateReader, compact: str,
                                                               lines: tuple[str, ...]) -> None:
    """8 characters on two lines are a car (`54T` / `154.17`) or an old motorbike (`54-T1` / `5417`): the lines
    the recogniser found decide, and the display must follow them."""
    spec = PlateSpec(compact, Layout.MOTORBIKE, RenderColour.WHITE)
    read = reader.read(_loose(render_plate(spec, px_per_mm=1.0)))
    assert read.status is ReadStatus.READ, read.reason
    assert read.text == compact
    assert read.lines == lines


def _glare_band(plate: np.ndarray, top: float, bottom: float, x0: float, x1: float) -> np.ndarray:
    """A saturated headlight reflection over rows top..bottom and columns x0..x1 (shares of the plate)."""
    out = plate.copy()
    h, w = plate.shape[:2]
    out[int(top * h):int(bottom * h), int(x0 * w):int(x1 * w)] = 255
    return out


@pytest.mark.parametrize("compact", ["84B136217", "75H135792", "29D112345", "51M243567", "30B198765", "66P189575"])
def test_a_series_letter_half_wiped_by_glare_on_a_blurred_frame_is_never_read_as_another(
        reader: PlateReader, compact: str) -> None:
    """The kind of frame the fine-tuned recogniser once read surely wrong (a `B` half wiped by glare as `D`, a
    blurred `H` as `B`): the reading is the plate's or it goes to review, never another plate's."""
    plate = render_plate(PlateSpec(compact, Layout.MOTORBIKE), px_per_mm=1.6)
    # The band covers the upper part of the top line's series letter and the digit after it.
    frame = motion_blur(_loose(_glare_band(plate, 0.12, 0.24, 0.5, 0.95)), 9)
    read = reader.read(frame)
    assert read.status is ReadStatus.UNREADABLE or read.text == compact, (read.text, read.confidence)


def test_evidence_names_the_fine_tuned_recogniser_a_box_reads_with() -> None:
    """A violation's evidence carries the hash of every model that read it, the plate-tuned recogniser included."""
    import hashlib
    from types import SimpleNamespace

    from pipeline.app import build_reader, model_hashes
    from pipeline.commands import _reading_app

    app = _reading_app(None)
    detector = SimpleNamespace(model_sha256="0" * 64)
    hashes = model_hashes(app, build_reader(app), detector, detector)  # type: ignore[arg-type]
    committed = hashlib.sha256((ROOT / "ocr/models/ppocr_plate_rec.delta.npz").read_bytes()).hexdigest()
    assert hashes["ocr:ppocr_plate_rec.delta.npz"] == committed  # with the original's below: the model read with
    assert "ocr:ch_PP-OCRv4_rec_infer.onnx" in hashes  # rapidocr's own recogniser still reads detector boxes


def _in_a_loose_crop(plate: np.ndarray, margin: float, seed: int) -> np.ndarray:
    """The plate inside a crop `margin` × its size larger on each side: dark noisy surroundings and two bright
    patches (a lamp, a sticker), the plate off-centre — a crop cut by hand, or a generous box."""
    rng = np.random.default_rng(seed)
    h, w = plate.shape[:2]
    my, mx = int(h * margin), int(w * margin)
    canvas = np.clip(rng.normal(45, 12, (h + 2 * my, w + 2 * mx, 3)), 0, 255).astype(np.uint8)
    canvas[my // 3: my // 3 + h // 3, mx // 4: mx // 4 + w // 2] = 210
    canvas[-my // 2:, -mx // 2:] = 180
    oy, ox = int(my * rng.uniform(0.6, 1.4)), int(mx * rng.uniform(0.6, 1.4))
    canvas[oy:oy + h, ox:ox + w] = plate
    return canvas


def _outcome(read: ScoredPlateRead, spec: PlateSpec) -> str:
    return "right" if read.text == spec.compact else "wrong" if read.status is ReadStatus.READ else "review"


@pytest.mark.parametrize("margin", [0.25, 0.5, 1.0])
def test_a_plate_in_a_loose_crop_is_read_right_or_sent_to_review(reader: PlateReader, margin: float) -> None:
    """read-plates on crops cut loosely around the plate: the reader must find the plate inside the crop; where it
    cannot, it must not read the whole crop as if it were the plate (the sure wrong reads a new user found)."""
    specs = [PlateSpec("30A12345", Layout.CAR_ONE_LINE), PlateSpec("51G68882", Layout.CAR_ONE_LINE),
             PlateSpec("84B136217", Layout.MOTORBIKE), PlateSpec("29AA12345", Layout.MOTORBIKE),
             PlateSpec("30K56789", Layout.CAR_TWO_LINE), PlateSpec("75H135792", Layout.MOTORBIKE)]
    outcomes = [_outcome(reader.read_loose(_in_a_loose_crop(render_plate(spec, px_per_mm=1.0), margin, seed)), spec)
                for seed, spec in enumerate(specs)]
    assert "wrong" not in outcomes, outcomes
    assert outcomes.count("right") >= 4, outcomes  # most are found and read, not all sent to review


@pytest.mark.parametrize("margin", [0.25, 0.5, 1.0])
def test_a_plate_on_a_bright_car_body_is_found_by_its_text_not_its_colour(reader: PlateReader,
                                                                         margin: float) -> None:
    """The fault of hand-cut crops of silver and white cars: the bright-blob search took the car body for the
    plate, and the whole crop read at the crop's scale dropped characters, surely. read-plates finds the plate by
    its text first and reads it at full resolution."""
    specs = [PlateSpec("51A19222", Layout.CAR_TWO_LINE), PlateSpec("51H32116", Layout.CAR_ONE_LINE),
             PlateSpec("75H135792", Layout.MOTORBIKE), PlateSpec("81AA04892", Layout.MOTORBIKE)]
    outcomes = [_outcome(reader.read_loose(plate_on_car_rear(render_plate(spec, px_per_mm=1.2), margin, seed)), spec)
                for seed, spec in enumerate(specs)]
    assert outcomes == ["right"] * len(specs), outcomes


def test_two_plates_in_one_crop_go_to_review(reader: PlateReader) -> None:
    """A crop holding two vehicles' plates (a neighbour's bumper in a generous cut) names neither."""
    a = _loose(render_plate(PlateSpec("30A12345", Layout.CAR_ONE_LINE), px_per_mm=1.0))
    b = _loose(render_plate(PlateSpec("29K67890", Layout.CAR_ONE_LINE), px_per_mm=1.0))
    gap = np.full((a.shape[0], a.shape[1] // 2, 3), 60, np.uint8)
    read = reader.read_loose(cv2.copyMakeBorder(np.hstack([a, gap, b]), 80, 80, 20, 20, cv2.BORDER_CONSTANT,
                                                value=(60, 60, 60)))
    assert read.status is ReadStatus.UNREADABLE and "more than one plate" in read.reason
    assert {"30A12345", "29K67890"} <= {c.text for c in read.candidates}


@pytest.mark.parametrize("gap_px", [10, 30])
def test_two_plates_side_by_side_that_read_as_one_text_line_go_to_review(reader: PlateReader, gap_px: int) -> None:
    """A fresh-user trial: two car plates close side by side were read as one of them, without a word. The text
    detector joins them into one line twice as long as a plate's."""
    a = render_plate(PlateSpec("30A12345", Layout.CAR_ONE_LINE), px_per_mm=0.6)
    b = render_plate(PlateSpec("29K67890", Layout.CAR_ONE_LINE), px_per_mm=0.6)
    pair = np.hstack([a, np.full((a.shape[0], gap_px, 3), 90, np.uint8), b])
    read = reader.read_loose(cv2.copyMakeBorder(pair, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=(90, 90, 90)))
    assert read.status is ReadStatus.UNREADABLE and read.text == ""
    assert "wider than one plate" in read.reason or "more than one plate" in read.reason


@pytest.mark.parametrize("plate_px", [30, 40, 48])
def test_a_small_plate_on_a_bright_car_body_is_never_read_from_the_body(reader: PlateReader, plate_px: int) -> None:
    """A plate 30–48 px wide with as much silver car again on each side, read as read-plates reads it: right or
    sent to review, never as another plate. (On real crops like this the text detector found no text at 256 px and
    the whole crop was read with the car body taken for the plate, surely wrong; `read_loose` now searches again
    on a larger copy. Rendered plates are found at 256 px already, so this guards the outcome, not that path.)"""
    specs = [PlateSpec("51A19222", Layout.CAR_TWO_LINE), PlateSpec("75H135792", Layout.MOTORBIKE),
             PlateSpec("81K53579", Layout.MOTORBIKE), PlateSpec("30A12345", Layout.CAR_ONE_LINE)]
    outcomes = []
    for seed, spec in enumerate(specs):
        plate = render_plate(spec, px_per_mm=1.2)
        crop = plate_on_car_rear(plate, 1.0, seed)
        outcomes.append(_outcome(reader.read_loose(scaled(crop, plate_px / plate.shape[1])), spec))
    assert "wrong" not in outcomes, outcomes


def test_a_crop_centred_on_an_unreadable_plate_does_not_answer_with_its_neighbours(reader: PlateReader) -> None:
    """A crop cut generously around one vehicle's plate (in its middle) that also holds a neighbour's plate at its
    side: when the plate in the middle cannot be read, the answer is review, not the neighbour's plate."""
    neighbour = _loose(render_plate(PlateSpec("29K67890", Layout.CAR_ONE_LINE), px_per_mm=1.0))
    hidden = _loose(obscure_plate(render_plate(PlateSpec("30A12345", Layout.CAR_ONE_LINE), px_per_mm=1.0), seed=3))
    h, w = hidden.shape[:2]
    canvas = np.full((h * 5, w * 4, 3), 60, np.uint8)
    canvas[2 * h: 3 * h, int(1.5 * w): int(1.5 * w) + w] = hidden  # the plate the crop was cut around
    canvas[4 * h - neighbour.shape[0]: 4 * h, : neighbour.shape[1]] = neighbour  # the neighbour's, low left
    read = reader.read_loose(canvas)
    assert read.status is ReadStatus.UNREADABLE, read.text
    assert "nearest the crop's centre" in read.reason


_HIDDEN_SPECS = [PlateSpec("30A12345", Layout.CAR_ONE_LINE), PlateSpec("29AB12345", Layout.MOTORBIKE),
                 PlateSpec("51A19222", Layout.CAR_TWO_LINE), PlateSpec("81K53579", Layout.MOTORBIKE)]


@pytest.mark.parametrize("occlusion", OCCLUSIONS)
def test_a_plate_with_a_character_hidden_is_not_read_as_a_shorter_plate(reader: PlateReader,
                                                                          occlusion: str) -> None:
    """Paint over the plate's right fifth, a dark block over one character (or one in the plate's colour), the crop
    cut short of the plate's right edge: the recogniser reads what it sees and the grammar accepts one character
    fewer (an old four-digit serial), so without the completeness checks most of these were sure wrong reads (a
    fresh-user trial on real crops: 32 to 56 of 87). Review, or right where the hidden part held no character,
    never another plate."""
    outcomes = []
    for index, spec in enumerate(_HIDDEN_SPECS):
        for px_per_mm in (0.6, 1.0):
            plate = render_plate(spec, px_per_mm=px_per_mm)
            h, w = plate.shape[:2]
            my, mx = int(h * 0.15), int(w * 0.15)
            crop = occluded(_loose(plate), (mx, my, mx + w, my + h), occlusion, index)
            outcomes.append(_outcome(reader.read(crop), spec))
    if occlusion == "erase":
        # Known weakness (docs/accuracy.md, 6th round): a glyph only half taped over shows a stroke the recogniser
        # reads as another character (`0` half hidden reads `1`: the line keeps its length), and a hidden digit
        # with the dot beside it can leave a gap the recogniser's coarse steps do not show: 3 of these 8.
        assert outcomes.count("wrong") <= 3, outcomes
    else:
        assert "wrong" not in outcomes, outcomes

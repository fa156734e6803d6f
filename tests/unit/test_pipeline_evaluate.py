"""The eval measures on a hand-made labelled folder with fake detectors and a fake reader (fast, exact values)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import BoxXYXY, PlateDetection
from ocr.plate_reader import ScoredPlateRead
from pipeline.evaluate import LabelsError, cer, evaluate, load_labels, summarise, write_misses
from rules.types import OcrCandidate, PlateColour, PlateLayout, ReadStatus

HEADER = "set,file,plate_text,plate_compact,lines,colour,vehicle,bbox_xyxy,readable,label_source,notes\n"


class FakeVehicles:
    def detect(self, images: list[np.ndarray]) -> list[list[object]]:
        return [[] for _ in images]


class FakePlates:
    """Returns, per image, the boxes listed for it (in call order)."""

    def __init__(self, boxes: list[list[tuple[float, float, float, float]]]) -> None:
        self._boxes = iter(boxes)

    def detect(self, images: list[np.ndarray]) -> list[list[PlateDetection]]:
        return [[PlateDetection(BoxXYXY(*b), 0.9) for b in next(self._boxes)] for _ in images]


class FakeReader:
    """Reads crops by their width: a table from crop width to (text, colour, layout)."""

    def __init__(self, table: dict[int, tuple[str, str, PlateLayout]]) -> None:
        self.table = table

    def read(self, crop: np.ndarray) -> ScoredPlateRead:
        text, colour, layout = self.table.get(crop.shape[1], ("", "uncertain", PlateLayout.ONE_LINE))
        if not text:
            return ScoredPlateRead(ReadStatus.UNREADABLE, "", (), None, PlateColour(colour), 0.0, 0.0, (),
                                   "no text found")
        return ScoredPlateRead(ReadStatus.READ, text, (text,), layout, PlateColour(colour), 0.9, 0.9,
                               (OcrCandidate(text, 0.9, "fake"),))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "s").mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / "s" / name), np.full((200, 400, 3), 90, np.uint8))
    (tmp_path / "labels.csv").write_text(HEADER + "\n".join([
        's,a.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",1,x,',   # found, read right
        's,a.png,29-AA 123.45,29AA12345,2,yellow,motorbike,"200,50,260,100",1,x,',  # found, misread, wrong colour
        's,b.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",1,x,',   # found, unreadable
        's,b.png,,,2,white,motorbike,"300,100,360,150",0,x,dirt',       # don't-care, not detected
    ]) + "\n")
    return tmp_path


def test_measures_on_a_hand_made_folder(folder: Path, tmp_path: Path) -> None:
    # a.png: both plates found plus one false box; b.png: the car plate found, offset but IoU ≥ 0.5.
    plates = FakePlates([[(10, 10, 110, 40), (200, 50, 260, 100), (300, 0, 340, 20)], [(14, 12, 112, 41)]])
    # Crops are cut 6% larger than the box: widths 112, 68, 45 and 110.
    reader = FakeReader({112: ("30A12345", "white", PlateLayout.ONE_LINE),
                         68: ("29AA12845", "white", PlateLayout.TWO_LINE),
                         45: ("51G68882", "white", PlateLayout.ONE_LINE)})
    totals = evaluate(folder, FakeVehicles(), plates, reader)  # type: ignore[arg-type]
    s = summarise(totals)
    assert s["plates"] == 3  # readable labels only
    assert s["detection_recall"] == pytest.approx(3 / 4)  # the don't-care plate is boxed and was not found
    assert s["detection_precision"] == pytest.approx(3 / 4)  # 3 of the 4 detections match a box
    assert s["exact_read_rate"] == pytest.approx(1 / 3)
    assert s["distinct_plates"] == 2 and s["exact_read_rate_distinct"] == pytest.approx(1 / 2)
    # Voting over the car plate's two frames (one read, one unreadable) keeps the read; the motorbike stays wrong.
    assert s["exact_read_rate_voted"] == pytest.approx(1 / 2)
    assert s["cer"] == pytest.approx((0 + 1 / 9 + 1) / 3)
    assert s["layout_accuracy"] == pytest.approx(2 / 2)  # judged on the plates read: an unreadable has no layout
    assert s["colour_accuracy"] == pytest.approx(1 / 3)
    assert s["wrong_reads"] == 1 and s["unreadable_outcomes"] == 1  # the misread motorbike; the unreadable car
    assert s["reads_off_labels"] == 1  # the false box (width 45), read as a plate nobody labelled
    assert s["plates_not_found"] == 0  # every readable plate had a read matched to it
    misses = write_misses(totals, tmp_path / "out")
    assert [m.label.compact for m in misses] == ["29AA12345", "30A12345"]
    csv_text = (tmp_path / "out" / "misses.csv").read_text()
    assert "29AA12845" in csv_text and "no text found" in csv_text
    assert (tmp_path / "out" / "misses.html").read_text().count("data:image/jpeg;base64,") == 2


def test_labels_need_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_labels(tmp_path)


@pytest.mark.parametrize(("truth", "read", "rate"), [
    ("30A12345", "30A12345", 0.0), ("30A12345", "30A1234", 1 / 8), ("30A12345", "", 1.0),
    ("30A12345", "30B12845", 2 / 8),
])
def test_character_error_rate(truth: str, read: str, rate: float) -> None:
    assert cer(truth, read) == pytest.approx(rate)


@pytest.mark.parametrize(("text", "message"), [
    ("set,file\nfoo,a.jpg\n", r"labels\.csv:1: missing column\(s\) plate_compact"),
    ('set,file,plate_compact,bbox_xyxy\ns,a.jpg,30A12345,"1,2,3"\n',
     r"labels\.csv:2: bbox_xyxy must be four numbers \"x1,y1,x2,y2\", got '1,2,3'"),
    ('set,file,plate_compact,bbox_xyxy\ns,a.jpg,30A12345,"9,2,3,4"\n', r"labels\.csv:2: bbox_xyxy must have x2 > x1"),
])
def test_unusable_labels_file_names_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(LabelsError, match=message):
        load_labels(tmp_path)


def _labels(root: Path, rows: list[str], images: tuple[str, ...] = ("a.png",)) -> Path:
    (root / "s").mkdir(parents=True, exist_ok=True)
    for name in images:
        cv2.imwrite(str(root / "s" / name), np.full((200, 400, 3), 90, np.uint8))
    (root / "labels.csv").write_text(HEADER + "".join(row + "\n" for row in rows))
    return root


GOOD = 's,a.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",1,x,'


@pytest.mark.parametrize(("row", "message"), [
    ('s,gone.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",1,x,', r"labels\.csv:3: image not found: .*gone\.png"),
    ("mrz_vlp,short", r"labels\.csv:3: 2 field\(s\), the header has 11"),
    ("s,a.png,30A-123.45,30A12345,1,white,car,10,10,110,40,1,x,", r"labels\.csv:3: 14 field\(s\).*must be quoted"),
    ('s,a.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",yes,x,', r"labels\.csv:3: readable must be 0 or 1"),
    ('s,a.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",,x,', r"labels\.csv:3: readable must be 0 or 1"),
    ('s,a.png,,,1,white,car,"10,10,110,40",1,x,', r"labels\.csv:3: plate_compact is empty on a readable plate"),
    ('s,a.png,30A-123.45,30A12345,1,purple,car,"10,10,110,40",1,x,', r"labels\.csv:3: colour must be one of white"),
    ('s,a.png,30A-123.45,30A12345,3,white,car,"10,10,110,40",1,x,', r"labels\.csv:3: lines must be 1 or 2"),
    ('s,a.png,30A-123.45,30a12345,1,white,car,"10,10,110,40",1,x,', r"labels\.csv:3: plate_compact must be capital"),
    ('s,a.png,30A-123.45,30A-12345,1,white,car,"10,10,110,40",1,x,', r"labels\.csv:3: plate_compact must be capital"),
    ('../s,a.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",1,x,', r"labels\.csv:3: set must name a folder inside"),
    ('s,/etc/a.png,30A-123.45,30A12345,1,white,car,"10,10,110,40",1,x,',
     r"labels\.csv:3: file must name a file inside"),
    ('s,a.png,30A-123.45,30A12345,1,white,car,"10,10,500,40",1,x,',
     r"labels\.csv:3: bbox_xyxy reaches past the image \(400×200 px\)"),
])
def test_a_bad_row_is_an_error_naming_its_line_not_a_silent_miss(tmp_path: Path, row: str, message: str) -> None:
    _labels(tmp_path, [GOOD, row])
    with pytest.raises(LabelsError, match=message) as caught:
        evaluate(tmp_path, FakeVehicles(), FakePlates([[]]), FakeReader({}))  # type: ignore[arg-type]
    assert "30A12345" not in str(caught.value)  # plate text is personal data: never in the message


def test_an_empty_colour_is_an_unlabelled_colour_and_every_plate_colour_is_accepted(tmp_path: Path) -> None:
    rows = [f's,a.png,30A-123.45,30A12345,1,{c},car,"10,10,110,40",1,x,' for c in ("", *PlateColour)]
    assert [label.colour for label in load_labels(_labels(tmp_path, rows))] == ["", *PlateColour]


@pytest.mark.parametrize(("rows", "message"), [
    ([], r"labels\.csv: no labelled plates \(no rows after the header\)"),
    (['s,a.png,,,2,white,motorbike,"300,100,360,150",0,x,dirt'], r"no labelled plates \(all 1 row\(s\) have readable"),
])
def test_a_labels_file_without_readable_plates_is_an_error(tmp_path: Path, rows: list[str], message: str) -> None:
    _labels(tmp_path, rows)
    with pytest.raises(LabelsError, match=message):
        evaluate(tmp_path, FakeVehicles(), FakePlates([]), FakeReader({}))  # type: ignore[arg-type]


def test_an_image_that_cannot_be_decoded_is_an_error_naming_its_line(tmp_path: Path) -> None:
    _labels(tmp_path, [GOOD])
    (tmp_path / "s" / "a.png").write_bytes(b"not a png")
    with pytest.raises(LabelsError, match=r"labels\.csv:2: image .*a\.png: cannot read image"):
        evaluate(tmp_path, FakeVehicles(), FakePlates([[]]), FakeReader({}))  # type: ignore[arg-type]


def test_a_miss_says_whether_the_plate_was_not_detected_or_not_read(tmp_path: Path) -> None:
    _labels(tmp_path, [
        GOOD,                                                             # a.png: a box elsewhere only (IoU 0)
        's,b.png,29-AA 123.45,29AA12345,2,yellow,motorbike,,1,x,',        # b.png: unboxed, a box read wrong
        's,c.png,30A-543.21,30A54321,1,white,car,,1,x,',                  # c.png: unboxed, nothing detected
        's,d.png,30A-111.11,30A11111,1,white,car,"10,10,110,40",1,x,',    # d.png: found, misread
    ], images=("a.png", "b.png", "c.png", "d.png"))
    plates = FakePlates([[(300, 100, 360, 150)], [(200, 50, 260, 100)], [], [(10, 10, 110, 40)]])
    reader = FakeReader({68: ("29AA12845", "yellow", PlateLayout.TWO_LINE), 112: ("30A11171", "white",
                                                                                    PlateLayout.ONE_LINE)})
    totals = evaluate(tmp_path, FakeVehicles(), plates, reader)  # type: ignore[arg-type]
    assert summarise(totals)["plates"] == 4
    write_misses(totals, tmp_path / "out")
    with (tmp_path / "out" / "misses.csv").open() as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    assert {f: (r["status"], r["found"]) for f, r in rows.items()} == {
        "a.png": ("not_detected", "0"), "b.png": ("not_read", "0"), "c.png": ("not_detected", "0"),
        "d.png": ("read", "1")}
    assert "IoU" in rows["a.png"]["reason"] and "no plate detected" in rows["c.png"]["reason"]
    assert "no read of this image matched the plate" in rows["b.png"]["reason"]
    assert rows["d.png"]["reason"] == "text differs from the label"
    assert all(r["reason"] for r in rows.values())


def test_eval_needs_no_config_file_and_its_defaults_are_the_demo_configs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline import app as app_module
    from pipeline import commands
    from pipeline.cli import _parser
    from pipeline.config import AppConfig

    root = Path(__file__).resolve().parents[2]
    demo = app_module.load_config(root / "configs" / "demo" / "demo.yaml").app
    seen: list[AppConfig] = []

    def stop(app: AppConfig) -> None:
        seen.append(app)
        raise SystemExit(0)

    _labels(tmp_path / "data", [GOOD])
    monkeypatch.chdir(tmp_path)  # outside the repo: no configs/demo/demo.yaml here
    monkeypatch.setattr(app_module, "build_detectors", stop)
    monkeypatch.setattr(app_module, "set_threads", lambda n: None)
    args = _parser().parse_args(["eval", "--data", "data"])
    assert args.config is None
    with pytest.raises(SystemExit):
        commands.cmd_eval(args)
    assert [(a.detectors, a.ocr, a.runtime, a.storage) for a in seen] == [
        (demo.detectors, demo.ocr, demo.runtime, demo.storage)]
    with pytest.raises(SystemExit):
        _parser().parse_args(["eval", "--help"])
    assert "(default: the built-in defaults, the same as configs/demo/demo.yaml's" in " ".join(
        capsys.readouterr().out.split())


def test_a_plate_without_a_labelled_colour_is_not_scored_on_colour(tmp_path: Path) -> None:
    _labels(tmp_path, [GOOD, 's,a.png,29-AA 123.45,29AA12345,2,,motorbike,"200,50,260,100",1,x,'])
    plates = FakePlates([[(10, 10, 110, 40), (200, 50, 260, 100)]])
    reader = FakeReader({112: ("30A12345", "white", PlateLayout.ONE_LINE),
                         68: ("29AA12345", "yellow", PlateLayout.TWO_LINE)})
    totals = evaluate(tmp_path, FakeVehicles(), plates, reader)  # type: ignore[arg-type]
    assert summarise(totals)["colour_accuracy"] == 1.0  # 1 of 1 labelled colour; the unlabelled one not judged
    assert write_misses(totals, tmp_path / "out") == []


def test_a_color_column_is_named_not_silently_unscored(tmp_path: Path) -> None:
    _labels(tmp_path, [GOOD])
    text = (tmp_path / "labels.csv").read_text()
    (tmp_path / "labels.csv").write_text(text.replace(",colour,", ",color,", 1))
    with pytest.raises(LabelsError, match=r"labels\.csv:1: column 'color' is spelt 'colour'"):
        load_labels(tmp_path)


class _ReadsTightCropsOnly:
    """Right on a crop up to 130 px wide, another plate up to 200 px, unreadable beyond."""

    def read_loose(self, crop: np.ndarray) -> ScoredPlateRead:
        w = crop.shape[1]
        if w > 200:
            return ScoredPlateRead(ReadStatus.UNREADABLE, "", (), None, PlateColour.WHITE, 0.0, 0.9, (), "loose")
        text = "30A12345" if w <= 130 else "30A12346"
        return ScoredPlateRead(ReadStatus.READ, text, (text,), PlateLayout.ONE_LINE, PlateColour.WHITE, 0.9, 0.9, ())


def test_loose_crops_are_counted_right_wrong_or_unreadable_per_margin(tmp_path: Path) -> None:
    from pipeline.evaluate import evaluate_loose_crops, loose_views

    _labels(tmp_path, [GOOD])  # the box is 100 × 30 px in a 400 × 200 image
    views = loose_views([0.0, 0.25, 1.0])
    outcomes = evaluate_loose_crops(tmp_path, _ReadsTightCropsOnly(), views)  # type: ignore[arg-type]
    # Widths 100, 150 (25 % on each side) and 210 (100 % on each side, the left edge clipped at 0).
    assert {v.margin: dict(c) for v, c in outcomes.counts.items()} == {0.0: {"right": 1}, 0.25: {"wrong": 1},
                                                                       1.0: {"unreadable": 1}}
    assert all(len(ms) == 1 and ms[0] >= 0 for ms in outcomes.ms.values())


def test_loose_crops_need_boxed_labels_and_margins_are_read_once(tmp_path: Path) -> None:
    import argparse

    from pipeline.cli import _margins
    from pipeline.evaluate import evaluate_loose_crops, loose_views

    _labels(tmp_path, ['s,a.png,30A-123.45,30A12345,1,white,car,,1,x,'])
    with pytest.raises(LabelsError, match=r"labels\.csv: no readable plate has a bbox_xyxy"):
        evaluate_loose_crops(tmp_path, _ReadsTightCropsOnly(), loose_views([0.0]))  # type: ignore[arg-type]
    assert _margins("0.5,0,0.5,-0") == [0.5, 0.0]
    with pytest.raises(argparse.ArgumentTypeError, match="0 to 5"):
        _margins("0,9")


def test_detection_measures_with_nothing_to_measure_on_are_none_not_zero(tmp_path: Path) -> None:
    """Labels without boxes: detection recall and precision cannot be measured (printed n/a), and a readable plate
    no read was matched to is counted, so `misses: N` adds up from the printed counters."""
    _labels(tmp_path, ['s,a.png,30A-123.45,30A12345,1,white,car,,1,x,'])
    totals = evaluate(tmp_path, FakeVehicles(), FakePlates([[]]), FakeReader({}))  # type: ignore[arg-type]
    s = summarise(totals)
    assert s["detection_recall"] is None and s["detection_precision"] is None
    assert s["plates_not_found"] == 1 and len(write_misses(totals, tmp_path / "out")) == 1


def test_loose_crops_scaled_to_a_plate_width_and_tilted_both_ways(tmp_path: Path) -> None:
    """`--plate-widths`: the crop is scaled so that the labelled plate (100 px) is the width asked for, whatever the
    margin; `--tilt`: the crop keeps its size, turned one way for one label and the other way for the next."""
    from pipeline.evaluate import LooseView, _cut_loose, evaluate_loose_crops, loose_views

    _labels(tmp_path, [GOOD])
    views = loose_views([0.0, 0.25], [60, 180])
    assert [(v.plate_width_px, v.margin) for v in views] == [(60, 0.0), (60, 0.25), (180, 0.0), (180, 0.25)]
    outcomes = evaluate_loose_crops(tmp_path, _ReadsTightCropsOnly(), views)  # type: ignore[arg-type]
    # Crop widths 60, 90, 180 and 270: right, right, wrong, unreadable.
    assert [dict(outcomes.counts[v]) for v in views] == [{"right": 1}, {"right": 1}, {"wrong": 1},
                                                         {"unreadable": 1}]
    image = np.zeros((200, 400, 3), np.uint8)
    image[10:40, 10:110] = 255  # the labelled plate: white on black
    box = load_labels(tmp_path)[0].box
    assert box is not None
    turned = [_cut_loose(image, box, LooseView(0.5, None, 8.0), i) for i in (0, 1)]
    assert turned[0].shape == turned[1].shape == _cut_loose(image, box, LooseView(0.5), 0).shape
    assert not np.array_equal(turned[0], turned[1])  # one turned clockwise, the other counter-clockwise

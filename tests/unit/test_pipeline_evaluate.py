"""The eval measures on a hand-made labelled folder with fake detectors and a fake reader (fast, exact values)."""

from __future__ import annotations

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
                         68: ("29AA12845", "white", PlateLayout.TWO_LINE)})
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
    ('set,file,plate_compact,bbox_xyxy\ns,a.jpg,30A12345,"1,2,3"\n', r"labels\.csv:2: bad row"),
])
def test_unusable_labels_file_names_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(LabelsError, match=message):
        load_labels(tmp_path)

"""The plate reader's decisions with a scripted engine (fast): which path runs, ambiguity, weak characters."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr.colour import PlateColourClassifier
from ocr.engines import TextBox
from ocr.line_recogniser import RecognisedLine
from ocr.plate_reader import PlateReader
from rules.types import PlateColour, ReadStatus
from sample_videos.plates import Layout, PlateSpec, render_plate


class ScriptedEngine:
    """Returns the given lines from the recogniser; its text detector finds `detector_boxes`."""

    name = "scripted"
    model_files = ("none",)

    def __init__(self, lines: list[RecognisedLine], detector_boxes: list[TextBox] | None = None,
                 reread: list[RecognisedLine] | None = None) -> None:
        self.lines = lines
        self.detector_boxes = detector_boxes or []
        self.reread = reread  # what the recogniser says on the detector's boxes (second call)
        self.detector_calls = 0

    def read(self, image: np.ndarray) -> list[TextBox]:
        self.detector_calls += 1
        return self.detector_boxes

    def recognise_line(self, image: np.ndarray) -> TextBox | None:
        return None

    def recognise_lines(self, images: list[np.ndarray]) -> list[RecognisedLine]:
        if self.detector_calls and self.reread is not None:
            assert len(images) == len(self.reread)
            return self.reread
        assert len(images) == len(self.lines)
        return self.lines


def _line(text: str, conf: float = 0.99, weak: dict[int, float] | None = None) -> RecognisedLine:
    confs = [conf] * len(text)
    for i, c in (weak or {}).items():
        confs[i] = c
    return RecognisedLine(text, tuple(confs), tuple(("", 0.0) for _ in text))


MOTORBIKE = render_plate(PlateSpec("29AS12345", Layout.MOTORBIKE), px_per_mm=1.0)


def _reader(engine: ScriptedEngine) -> PlateReader:
    return PlateReader(engine, PlateColourClassifier())  # type: ignore[arg-type]


def test_a_sure_read_is_final_without_the_text_detector() -> None:
    engine = ScriptedEngine([_line("29-AS"), _line("123.45")])
    read = _reader(engine).read(MOTORBIKE)
    assert read.status is ReadStatus.READ and read.text == "29AS12345"
    assert engine.detector_calls == 0
    assert len(read.char_confidences) == 9


def test_a_surely_read_fourth_letter_is_not_ambiguous_and_no_character_is_dropped() -> None:
    # "29AS" could be the old series "29A5" (S→5): both grammatical. The recogniser read S surely, so the plate is
    # read as seen — not halved into review, and never replaced by a costlier reading with a character dropped.
    read = _reader(ScriptedEngine([_line("29-AS"), _line("123.45")])).read(MOTORBIKE)
    assert read.text == "29AS12345" and read.confidence > 0.9


def test_an_unsure_fourth_character_goes_to_review_not_to_a_shorter_plate() -> None:
    engine = ScriptedEngine([_line("29-AS", weak={4: 0.7}), _line("123.45")])
    read = _reader(engine).read(MOTORBIKE)
    assert read.status is ReadStatus.UNREADABLE
    assert read.candidates[0].text in {"29AS12345", "29A512345"}


def test_one_character_hardly_seen_makes_the_plate_unreadable_with_its_guess_kept() -> None:
    engine = ScriptedEngine([_line("29-AS"), _line("123.45", weak={0: 0.3})])
    read = _reader(engine).read(MOTORBIKE)
    assert read.status is ReadStatus.UNREADABLE and "character" in read.reason
    assert "29AS12345" in {c.text for c in read.candidates}


@pytest.mark.parametrize("conf", [0.6, 0.7])
def test_an_unsure_lines_read_also_asks_the_text_detector(conf: float) -> None:
    engine = ScriptedEngine([_line("29-AS", conf), _line("123.45", conf)])
    _reader(engine).read(MOTORBIKE)
    assert engine.detector_calls == 1


def test_the_detector_fallback_is_gated_by_the_recogniser_per_character() -> None:
    """The fault seen on real frames: glare over the series letter, the lines path unsure, the text detector's own
    recognition confident but wrong. Its boxes are re-read by the plate recogniser, whose per-character confidence
    shows the letter was hardly seen: unreadable, not a wrong plate."""
    boxes = [TextBox("29-DS", 0.95, 20, 10, 160, 60), TextBox("123.45", 0.97, 15, 70, 170, 125)]
    engine = ScriptedEngine([_line("29", 0.6), _line("123.45", 0.6)], boxes,
                            reread=[_line("29-DS", weak={3: 0.3}), _line("123.45")])
    read = _reader(engine).read(MOTORBIKE)
    assert engine.detector_calls == 1
    assert read.status is ReadStatus.UNREADABLE and "character" in read.reason
    # The same boxes re-read surely give the plate.
    sure = ScriptedEngine([_line("29", 0.6), _line("123.45", 0.6)], boxes, reread=[_line("29-AS"), _line("123.45")])
    assert _reader(sure).read(MOTORBIKE).text == "29AS12345"


@pytest.mark.parametrize(("colour", "military_read"), [(PlateColour.WHITE, False), (PlateColour.RED, True)])
def test_a_military_shaped_read_needs_a_red_plate(colour: PlateColour, military_read: bool) -> None:
    """Seen on a real blurred frame: the province code `84` of a white plate read as `BT` under motion blur,
    which the grammar alone accepts as a military plate. Military plates are red (DOMAIN §3)."""
    plate = render_plate(PlateSpec("29A112345", Layout.MOTORBIKE, colour), px_per_mm=1.0)
    read = _reader(ScriptedEngine([_line("BT"), _line("362.17")])).read(plate)
    assert (read.status is ReadStatus.READ and read.text == "BT36217") is military_read
    if not military_read:
        assert read.status is ReadStatus.UNREADABLE


def test_a_letter_slot_adds_up_the_recogniser_s_look_alikes_of_its_letter() -> None:
    """Seen on a real frame: glare over the series letter `B`; the recogniser split it over `8` 0.39, `9` 0.19 and
    `B` 0.17. In a letter slot all three are `B`, so the plate is read (0.8 × 0.75), not sent to review for a
    character "read at 0.39" — while a digit slot's look-alike share still counts only for its own digit."""
    top = RecognisedLine("29-81", (0.99, 0.99, 0.99, 0.39, 0.99), tuple(("", 0.0) for _ in "29-81"),
                         ((("2", 0.99),), (("9", 0.99),), (("-", 0.99),),
                          (("8", 0.39), ("9", 0.19), ("B", 0.17), ("3", 0.1)), (("1", 0.99),)))
    read = _reader(ScriptedEngine([top, _line("123.45")])).read(MOTORBIKE)
    assert read.status is ReadStatus.READ and read.text == "29B112345"
    assert read.char_confidences[2] == pytest.approx(0.8 * 0.75)
    without_classes = RecognisedLine(top.text, top.char_confidences, top.alternatives)
    unsure = _reader(ScriptedEngine([without_classes, _line("123.45")])).read(MOTORBIKE)
    assert unsure.status is ReadStatus.UNREADABLE and "character" in unsure.reason


class LocatingEngine(ScriptedEngine):
    """A scripted engine with a text detector that finds `regions` (in the pixels of the image it is given) and
    remembers the size of every image the recogniser's caller cut for it."""

    def __init__(self, lines: list[RecognisedLine], regions: list[tuple[float, float, float, float]]) -> None:
        super().__init__(lines)
        self.regions = regions
        self.find_text_sizes: list[tuple[int, int]] = []

    def find_text(self, image: np.ndarray) -> list[object]:
        from ocr.localise import TextRegion

        self.find_text_sizes.append(image.shape[:2])
        return [TextRegion(*r, r[3] - r[1]) for r in self.regions]


def _in_a_big_crop(plate: np.ndarray) -> np.ndarray:
    h, w = plate.shape[:2]
    return cv2.copyMakeBorder(plate, h, h, w, w, cv2.BORDER_CONSTANT, value=(50, 50, 50))


def test_a_loose_crop_is_read_where_its_text_is_at_full_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    import ocr.plate_reader as plate_reader

    crop = _in_a_big_crop(MOTORBIKE)
    h, w = MOTORBIKE.shape[:2]
    scale = 256 / crop.shape[1]  # the text is looked for on a copy 256 px long
    engine = LocatingEngine([_line("29-AS"), _line("123.45")],
                            [(w * scale * 1.1, h * scale * 1.1, w * scale * 1.9, h * scale * 1.5),
                             (w * scale * 1.1, h * scale * 1.5, w * scale * 1.9, h * scale * 1.9)])
    seen: list[tuple[int, int]] = []
    original = plate_reader.locate
    monkeypatch.setattr(plate_reader, "locate", lambda image: (seen.append(image.shape[:2]), original(image))[1])
    read = _reader(engine).read_loose(crop)
    assert engine.find_text_sizes == [(round(crop.shape[0] * scale), 256)]
    assert read.status is ReadStatus.READ and read.text == "29AS12345"
    # The plate region was cut from the full-size crop: about the plate's size, not the crop's.
    assert seen and seen[0][1] == pytest.approx(w, rel=0.15) and seen[0][0] == pytest.approx(h, rel=0.25)


def test_a_crop_with_no_text_found_or_no_text_detector_is_read_whole() -> None:
    crop = _in_a_big_crop(MOTORBIKE)
    nothing = LocatingEngine([_line("29-AS"), _line("123.45")], [])
    assert _reader(nothing).read_loose(crop) == _reader(ScriptedEngine([_line("29-AS"), _line("123.45")])).read(crop)
    plain = ScriptedEngine([_line("29-AS"), _line("123.45")])
    assert _reader(plain).read_loose(crop) == _reader(plain).read(crop)

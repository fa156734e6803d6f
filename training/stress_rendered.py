"""Stress the plate reader on hard plates the project renders itself: tilt, loose crops, motion blur, night.

Not a unit test and not imported by the runtime packages: a measurement to rerun when the reader changes, on
input nobody has to download or label. Every plate is random but seeded, so two runs of the same code print the
same numbers. What matters is the split of outcomes — a *wrong* read fines the wrong person, an *unreadable* one
goes to a reviewer — so both are printed, overall and per blur level.

    PYTHONPATH=. .venv/bin/python -m training.stress_rendered --plates 150 [--engine ppocr|easyocr]
        [--line-model ppocr-plate|ppocr|crnn|ppocr+crnn] [--show-wrong] [--sweep-char-gate]
        [--hand-cut [--locate-side PX]] [--width PX] [--occlude paint-right|block|cut-right]

`--hand-cut` puts each plate on a car's rear instead (`sample_videos.scene.plate_on_car_rear`: silver, white,
grey or dark body, a bumper crease, a dealer's sticker with text; a quarter to once the plate's size of car on
each side) and reads it as `read-plates` does (`PlateReader.read_loose`); `--locate-side` sets the size of the
copy the plate's text is looked for on (`ReaderSettings.locate_side_px`) — how that size is chosen. `--width`
scales every crop so that its plate is that many pixels wide (a plate seen from afar, or close up).
`--occlude` hides part of every plate (`ocr.views.occluded`): right reads are then few and beside the point;
what counts is that a plate with a character hidden is not read as a shorter plate (wrong reads).

`--sweep-char-gate` reads every plate with the per-character gate off and prints right / wrong reads for a range
of gates (the gate does not change which reading wins, only whether it is sent to review): how
`ReaderSettings.min_char_confidence` is chosen, on rendered plates and never on the evaluation photos.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from ocr.views import OCCLUSIONS, occluded, scaled, tilted
from pipeline import offline

BLUR_LEVELS = (0.0, 6.0, 12.0, 18.0, 24.0)  # vertical motion blur in px per 160 px of crop height
_LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"


@dataclass(frozen=True)
class Case:
    compact: str
    image: npt.NDArray[np.uint8]
    blur: float
    plate_width_px: int  # the plate's own width in `image` (the rest is margin or car)


def _loose(image: npt.NDArray[np.uint8], margin: float) -> npt.NDArray[np.uint8]:
    h, w = image.shape[:2]
    out: npt.NDArray[np.uint8] = cv2.copyMakeBorder(image, int(h * margin), int(h * margin), int(w * margin),
                                                    int(w * margin), cv2.BORDER_CONSTANT, value=(60, 60, 60))
    return out


def at_plate_width(case: Case, width_px: int) -> Case:
    """The case seen from further away (or closer): scaled so that its plate is `width_px` wide."""
    return Case(case.compact, scaled(case.image, width_px / case.plate_width_px), case.blur, width_px)


def _night(image: npt.NDArray[np.uint8], gain: float, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    noisy = image.astype(np.float32) * gain + rng.normal(0.0, 8.0, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _random_plate(rng: np.random.Generator) -> tuple[str, str]:
    """(compact, layout name): new and old motorbike series and one-line car plates, valid by the grammar."""
    from rules.plate_grammar import PROVINCE_CODES

    province = sorted(PROVINCE_CODES)[int(rng.integers(len(PROVINCE_CODES)))]
    letter = _LETTERS[int(rng.integers(len(_LETTERS)))]
    kind = int(rng.integers(3))
    if kind == 0:
        return province + letter + _LETTERS[int(rng.integers(len(_LETTERS)))] + f"{rng.integers(100000):05d}", \
            "motorbike"
    if kind == 1:
        return province + letter + str(int(rng.integers(1, 10))) + f"{rng.integers(100000):05d}", "motorbike"
    return province + letter + f"{rng.integers(100000):05d}", "car_one_line"


_CAR_BODIES = (225.0, 190.0, 120.0, 60.0)  # white, silver, grey, dark


def make_cases(count: int, seed: int, hand_cut: bool = False, occlusion: str | None = None) -> list[Case]:
    from sample_videos.plates import Layout, PlateSpec, render_plate
    from sample_videos.scene import motion_blur, plate_on_car_rear

    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        compact, layout = _random_plate(rng)
        plate = render_plate(PlateSpec(compact, Layout(layout)), px_per_mm=float(rng.uniform(0.5, 1.2)))
        ph, pw = plate.shape[:2]
        if occlusion and occlusion != "cut-right":
            plate = occluded(plate, (0, 0, pw, ph), occlusion, i)
        if hand_cut:
            image = plate_on_car_rear(tilted(plate, float(rng.uniform(-6, 6))), float(rng.uniform(0.25, 1.0)),
                                      int(rng.integers(1 << 30)), _CAR_BODIES[i % len(_CAR_BODIES)])
        else:
            turned = tilted(plate, float(rng.uniform(-8, 8)))  # drawn before the margin: seeds keep their plates
            margin = float(rng.uniform(0.05, 0.25))
            image = _loose(turned, margin)
            if occlusion == "cut-right":  # the frame's edge: no margin past the cut
                mx, my = int(pw * margin), int(ph * margin)
                image = occluded(image, (mx, my, mx + pw, my + ph), occlusion, i)
        blur = BLUR_LEVELS[i % len(BLUR_LEVELS)]
        image = motion_blur(image, blur * plate.shape[0] / 160)  # blur in proportion to the plate, not the crop
        if rng.random() < 0.4:
            image = _night(image, float(rng.uniform(0.35, 0.7)), rng)
        cases.append(Case(compact, image, blur, plate.shape[1]))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", choices=["ppocr", "easyocr"], default="ppocr")
    parser.add_argument("--line-model", choices=["ppocr-plate", "ppocr", "crnn", "ppocr+crnn"],
                        default="ppocr-plate")
    parser.add_argument("--show-wrong", action="store_true",
                        help="print each wrong read (rendered plates: no personal data)")
    parser.add_argument("--sweep-char-gate", action="store_true",
                        help="right / wrong reads for per-character gates 0.40 ... 0.70")
    parser.add_argument("--hand-cut", action="store_true",
                        help="plates on a car's rear, read as read-plates reads a hand-cut crop")
    parser.add_argument("--width", type=int, default=None, metavar="PX",
                        help="scale every crop so that its plate is this wide first (seen from afar: 20-80 px)")
    parser.add_argument("--locate-side", type=int, default=None, metavar="PX",
                        help="with --hand-cut: the copy's size the plate's text is looked for on")
    parser.add_argument("--occlude", choices=OCCLUSIONS, default=None,
                        help="hide part of every plate (its right outcome is review, so count wrong reads)")
    args = parser.parse_args()
    if args.occlude == "cut-right" and args.hand_cut:
        parser.error("--occlude cut-right cuts the crop at the plate: not with --hand-cut")
    offline.apply()
    from ocr.colour import PlateColourClassifier
    from ocr.engines import EasyOcrEngine, RapidOcrEngine, TextEngine
    from ocr.plate_reader import PlateReader, ReaderSettings
    from rules.types import ReadStatus

    engine: TextEngine = EasyOcrEngine() if args.engine == "easyocr" else RapidOcrEngine(line_model=args.line_model)
    # The sweep reads with every confidence gate off, so that each gate's effect can be counted on its own.
    settings = (ReaderSettings(min_char_confidence=0.0, small_char_confidence=0.0, min_plate_confidence=0.0)
                if args.sweep_char_gate else ReaderSettings())
    if args.locate_side:
        settings = replace(settings, locate_side_px=args.locate_side)
    reader = PlateReader(engine, PlateColourClassifier(), settings)
    read_crop = reader.read_loose if args.hand_cut else reader.read
    outcomes: Counter[tuple[float, str]] = Counter()
    weakest_of_reads: list[tuple[float, bool]] = []  # (weakest character, right) of every read, for the sweep
    cpu_ms = []
    for case in make_cases(args.plates, args.seed, args.hand_cut, args.occlude):
        if args.width:
            case = at_plate_width(case, args.width)
        start = time.thread_time()
        read = read_crop(case.image)
        cpu_ms.append((time.thread_time() - start) * 1000)
        outcome = ("right" if read.text == case.compact else "wrong") if read.status is ReadStatus.READ \
            else "unreadable"
        outcomes[(case.blur, outcome)] += 1
        if read.status is ReadStatus.READ:
            weakest_of_reads.append((min(read.char_confidences, default=0.0), outcome == "right"))
        if args.show_wrong and outcome == "wrong":
            print(f"wrong: blur {case.blur:g} printed {case.compact} read {read.text} "
                  f"confidence {read.confidence:.2f} weakest {min(read.char_confidences, default=0):.2f}")
    if args.sweep_char_gate:
        for gate in (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70):
            kept = [right for weakest, right in weakest_of_reads if weakest >= gate]
            print(f"char gate {gate:.2f}: right={sum(kept)} wrong={len(kept) - sum(kept)}")
    for blur in BLUR_LEVELS:
        row = {k: outcomes[(blur, k)] for k in ("right", "unreadable", "wrong")}
        print(f"blur {blur:4.0f} px: " + " ".join(f"{k}={v}" for k, v in row.items()))
    total = {k: sum(outcomes[(b, k)] for b in BLUR_LEVELS) for k in ("right", "unreadable", "wrong")}
    n = max(1, sum(total.values()))
    print(f"right_rate={total['right'] / n:.4f} unreadable_rate={total['unreadable'] / n:.4f} "
          f"wrong_rate={total['wrong'] / n:.4f} median_cpu_ms={float(np.median(cpu_ms)):.1f} plates={n}")


if __name__ == "__main__":
    main()

"""`lez-anpr eval --data DIR`: the full reading path over a labelled folder, measured.

Input: `DIR/labels.csv` (columns set, file, plate_compact, lines, colour, bbox_xyxy, readable, …) with images at
`DIR/<set>/<file>`. Per image: vehicle + plate detection on the whole frame, each detected plate read (OCR,
grammar, colour). A labelled plate is *found* by the detection with IoU ≥ 0.5 (where its box is labelled) and
*read* when that detection's text equals the label. Unlabelled boxes (no bbox) are matched by text instead.
Detection precision is counted on the images whose plates all have boxes (elsewhere a detection of an unboxed
plate cannot be told from a false one). Time per plate is wall time and, because the machine may be shared, also
the reading thread's CPU time (the OCR runs in that thread). Writes `misses.csv` and `misses.html` (crop, truth,
read, status, reason, candidates) to the output folder: a miss is `not_detected` (no detected box overlaps
the labelled box at IoU ≥ 0.5; for an unboxed label, no plate detected in the image), `not_read` (plates were
detected but no read of the image was matched to it), or the matched read's status (`read` with the wrong text or
colour, `unreadable`). The last printed line is machine-readable.
"""

from __future__ import annotations

import base64
import csv
import html
import re
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, PlateDetector, VehicleDetector, crop
from ocr.plate_reader import PlateReader
from ocr.views import occluded, scaled, tilted
from pipeline.consensus import vote
from pipeline.stills import StillError, load_still
from rules.types import PlateColour, PlateLayout, PlateRead, ReadStatus

IOU_MATCH = 0.5


@dataclass(frozen=True)
class Label:
    set_name: str
    file: str
    compact: str
    lines: int
    colour: str
    box: BoxXYXY | None
    readable: bool
    line: int = 0  # in labels.csv, for error messages


NOT_DETECTED, NOT_READ = "not_detected", "not_read"


@dataclass
class Outcome:
    label: Label
    found: bool
    read: PlateRead | None
    crop: ImageBGR | None
    miss_status: str = ""  # when nothing was matched to the label: NOT_DETECTED or NOT_READ
    miss_reason: str = ""


@dataclass
class Totals:
    outcomes: list[Outcome] = field(default_factory=list)
    detections: int = 0  # on fully boxed images
    true_detections: int = 0  # of those, the ones matching a labelled box at IoU ≥ 0.5
    # Of those images' other boxes (a false detection, or a plate nobody labelled), the ones read as a plate:
    # not scored (the truth is unknown), but a reader that starts "reading" junk shows here first.
    reads_off_labels: int = 0
    image_ms: list[float] = field(default_factory=list)
    plate_ms: list[float] = field(default_factory=list)
    plate_cpu_ms: list[float] = field(default_factory=list)


LABEL_COLUMNS = ("set", "file", "plate_compact")
LABEL_COLOURS = tuple(c.value for c in PlateColour)  # or empty: colour not labelled


class LabelsError(ValueError):
    """A labels.csv that cannot be used: names the file, the line and what is wrong."""


def load_labels(data_dir: Path) -> list[Label]:
    path = data_dir / "labels.csv"
    if not path.is_file():
        raise FileNotFoundError(str(path))
    labels = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
            if "color" in (reader.fieldnames or []) and "colour" not in (reader.fieldnames or []):
                raise LabelsError(f"{path}:1: column 'color' is spelt 'colour' here (else colours go unscored)")
            if missing:
                raise LabelsError(f"{path}:1: missing column(s) {', '.join(missing)} "
                                  f"(needs {', '.join(LABEL_COLUMNS)}; optional lines, colour, bbox_xyxy, readable)")
            columns = len(reader.fieldnames or [])
            for row in reader:
                labels.append(_label_from_row(row, path, reader.line_num, columns))
    except UnicodeDecodeError:
        raise LabelsError(f"{path}: not UTF-8 text") from None
    return labels


def load_eval_labels(data_dir: Path) -> list[Label]:
    """`load_labels`, plus what `evaluate` needs: at least one readable plate, and every row's image on disk."""
    labels = load_labels(data_dir)
    path = data_dir / "labels.csv"
    if not any(label.readable for label in labels):
        raise LabelsError(f"{path}: no labelled plates (" + (f"all {len(labels)} row(s) have readable=0)" if labels
                                                             else "no rows after the header)"))
    for label in labels:
        image = data_dir / label.set_name / label.file
        if not image.is_file():
            raise LabelsError(f"{path}:{label.line}: image not found: {image}")
    return labels


def _label_from_row(row: dict[str | None, str | None], path: Path, line: int, columns: int) -> Label:
    # csv.DictReader fills the fields a short row lacks with None and keeps a long row's extra ones under None.
    extra = row.get(None)
    if extra is not None or any(value is None for value in row.values()):
        fields = sum(value is not None for key, value in row.items() if key is not None) + len(extra or [])
        hint = " (a bbox_xyxy must be quoted: \"x1,y1,x2,y2\")" if extra is not None and "bbox_xyxy" in row else ""
        raise LabelsError(f"{path}:{line}: {fields} field(s), the header has {columns}{hint}")
    cells = {key: value or "" for key, value in row.items() if key is not None}
    readable = cells.get("readable", "1")  # no readable column: every plate is readable
    if readable not in ("0", "1"):
        raise LabelsError(f"{path}:{line}: readable must be 0 or 1, got {readable!r}")
    colour = cells.get("colour", "")
    if colour and colour not in LABEL_COLOURS:
        raise LabelsError(f"{path}:{line}: colour must be one of {', '.join(LABEL_COLOURS)} (or empty), "
                          f"got {colour!r}")
    if readable == "1" and not cells["plate_compact"]:
        raise LabelsError(f"{path}:{line}: plate_compact is empty on a readable plate "
                          "(give its text, or readable=0 for a plate that cannot be read)")
    compact = cells["plate_compact"]
    if compact and not re.fullmatch(r"[A-Z0-9]+", compact):
        # The text itself is not echoed: a plate is personal data.
        raise LabelsError(f"{path}:{line}: plate_compact must be capital letters and digits only (DOMAIN §3's "
                          "normalised form: no lower case, '-', '.' or spaces)")
    lines = cells.get("lines") or "0"
    if lines not in ("0", "1", "2"):
        raise LabelsError(f"{path}:{line}: lines must be 1 or 2 (or empty), got {lines!r}")
    for column, what in (("set", "a folder"), ("file", "a file")):
        parts = Path(cells[column]).parts
        if (column == "file" and not cells[column]) or Path(cells[column]).is_absolute() or ".." in parts:
            raise LabelsError(f"{path}:{line}: {column} must name {what} inside the data folder, got "
                              f"{cells[column]!r}")
    box = None
    if cells.get("bbox_xyxy"):
        try:
            x1, y1, x2, y2 = (float(v) for v in cells["bbox_xyxy"].split(","))
        except ValueError:
            raise LabelsError(f"{path}:{line}: bbox_xyxy must be four numbers \"x1,y1,x2,y2\", got "
                              f"{cells['bbox_xyxy']!r}") from None
        if not (x2 > x1 and y2 > y1):
            raise LabelsError(f"{path}:{line}: bbox_xyxy must have x2 > x1 and y2 > y1, got {cells['bbox_xyxy']!r}")
        box = BoxXYXY(x1, y1, x2, y2)
    return Label(cells["set"], cells["file"], compact, int(lines), colour, box, readable == "1", line)


def cer(truth: str, read: str) -> float:
    """Character error rate: Levenshtein distance / length of the truth."""
    prev = list(range(len(read) + 1))
    for i, a in enumerate(truth, 1):
        cur = [i]
        for j, b in enumerate(read, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1] / max(1, len(truth))


def _match(labels: Sequence[Label], plates: Sequence[PlateDetection], reads: Sequence[PlateRead],
           crops: Sequence[ImageBGR]) -> tuple[list[Outcome], int]:
    outcomes, used = [], set()
    for label in labels:
        best, best_iou = None, 0.0
        for i, plate in enumerate(plates):
            if i in used:
                continue
            if label.box is not None:
                iou = label.box.iou(plate.box)
                if iou >= IOU_MATCH and iou > best_iou:
                    best, best_iou = i, iou
            elif reads[i].text == label.compact:
                best = i
        if best is not None:
            used.add(best)
            outcomes.append(Outcome(label, True, reads[best], crops[best]))
        else:
            outcomes.append(Outcome(label, False, None, None, *_why_unmatched(label, plates, used)))
    return outcomes, len(used)


def _why_unmatched(label: Label, plates: Sequence[PlateDetection], used: set[int]) -> tuple[str, str]:
    """The miss status and reason of a label no detection was matched to."""
    if label.box is None:
        if not plates:
            return NOT_DETECTED, "no plate detected in this image (the label has no box)"
        return NOT_READ, (f"no read of this image matched the plate ({len(plates)} plate box(es) detected; "
                          "the label has no box, so it is matched by text)")
    box = label.box
    overlapping = [i for i, plate in enumerate(plates) if box.iou(plate.box) >= IOU_MATCH]
    if overlapping:  # every box overlapping it went to another label of the image
        return NOT_READ, f"the detected box overlapping it (IoU ≥ {IOU_MATCH}) was matched to another label"
    best = max((box.iou(plate.box) for plate in plates), default=0.0)
    return NOT_DETECTED, (f"no detected plate box overlaps the labelled box at IoU ≥ {IOU_MATCH} "
                          f"({len(plates)} box(es) in the image, best IoU {best:.2f})")


def _labelled_image(data_dir: Path, label: Label) -> ImageBGR:
    """The image a label is on, or LabelsError naming the labels.csv line and why the image cannot be used."""
    path = data_dir / label.set_name / label.file
    try:
        return load_still(path)
    except StillError as exc:
        raise LabelsError(f"{data_dir / 'labels.csv'}:{label.line}: image {path}: {exc}") from None


def evaluate(data_dir: Path, vehicle: VehicleDetector, plate_detector: PlateDetector, reader: PlateReader) -> Totals:
    labels = load_eval_labels(data_dir)
    by_image: dict[tuple[str, str], list[Label]] = {}
    for label in labels:
        by_image.setdefault((label.set_name, label.file), []).append(label)
    totals = Totals()
    for (set_name, file), image_labels in sorted(by_image.items()):
        image = _labelled_image(data_dir, image_labels[0])
        h, w = image.shape[:2]
        for label in image_labels:
            if label.box is not None and (label.box.x2 > w + 1 or label.box.y2 > h + 1):
                raise LabelsError(f"{data_dir / 'labels.csv'}:{label.line}: bbox_xyxy reaches past the image "
                                  f"({w}×{h} px): {data_dir / set_name / file}")
        start = time.perf_counter()
        vehicle.detect([image])
        plates = plate_detector.detect([image])[0]
        crops, reads = [], []
        for plate in plates:
            plate_crop = crop(image, plate.box.expanded(0.06, w, h))
            t0, c0 = time.perf_counter(), time.thread_time()
            reads.append(reader.read(plate_crop))
            totals.plate_ms.append((time.perf_counter() - t0) * 1000)
            totals.plate_cpu_ms.append((time.thread_time() - c0) * 1000)
            crops.append(plate_crop)
        totals.image_ms.append((time.perf_counter() - start) * 1000)
        outcomes, _ = _match(image_labels, plates, reads, crops)
        totals.outcomes += outcomes
        if all(label.box is not None for label in image_labels):
            totals.detections += len(plates)
            totals.true_detections += sum(1 for o in outcomes if o.found)
            totals.reads_off_labels += sum(
                1 for plate, read in zip(plates, reads, strict=True) if read.status is ReadStatus.READ and
                all(label.box is None or label.box.iou(plate.box) < IOU_MATCH for label in image_labels))
    return totals


@dataclass(frozen=True)
class LooseView:
    """How a hand-cut crop is made from a labelled box: grown by `margin` (a share of the plate's size on each
    side), scaled so that the plate is `plate_width_px` wide (None: as photographed), turned `tilt_deg` (its sign
    alternates from one label to the next), with part of the plate hidden first (`ocr.views.occluded`; None:
    nothing hidden)."""

    margin: float
    plate_width_px: int | None = None
    tilt_deg: float = 0.0
    occlusion: str | None = None


@dataclass
class LooseCropOutcomes:
    counts: dict[LooseView, Counter[str]]  # per view: `right`, `wrong` (read as another text), `unreadable`
    ms: dict[LooseView, list[float]]  # per view: wall-clock milliseconds per crop read


def loose_views(margins: Sequence[float], plate_widths_px: Sequence[int] = (),
                tilt_deg: float = 0.0, occlusion: str | None = None) -> list[LooseView]:
    """Every margin at every plate width (none given: as photographed), all at one tilt and occlusion."""
    widths: Sequence[int | None] = plate_widths_px or [None]
    return [LooseView(m, w, tilt_deg, occlusion) for w in widths for m in margins]


def _cut_loose(image: ImageBGR, box: BoxXYXY, view: LooseView, index: int) -> ImageBGR:
    h, w = image.shape[:2]
    grown = box.expanded(view.margin, w, h)
    loose_crop = crop(image, grown)
    if view.occlusion:
        x0, y0 = grown.as_int()[:2]
        loose_crop = occluded(loose_crop, (box.x1 - x0, box.y1 - y0, box.x2 - x0, box.y2 - y0), view.occlusion,
                              index)
    if view.plate_width_px:
        loose_crop = scaled(loose_crop, view.plate_width_px / max(1.0, box.x2 - box.x1))
    if view.tilt_deg:
        loose_crop = tilted(loose_crop, view.tilt_deg if index % 2 == 0 else -view.tilt_deg)
    return loose_crop


def evaluate_loose_crops(data_dir: Path, reader: PlateReader, views: Sequence[LooseView]) -> LooseCropOutcomes:
    """The OCR path alone (`read-plates`: `PlateReader.read_loose`) on crops cut by hand around each boxed readable
    label, one per view (`LooseView`: margin, plate width, tilt). Per view, how many were read right, read as
    another text (`wrong`), or sent to review (`unreadable`), and how long each read took."""
    labels = [label for label in load_eval_labels(data_dir) if label.readable and label.box is not None]
    if not labels:
        raise LabelsError(f"{data_dir / 'labels.csv'}: no readable plate has a bbox_xyxy: loose crops are cut "
                          "around labelled boxes")
    outcomes = LooseCropOutcomes({v: Counter() for v in views}, {v: [] for v in views})
    path, image = None, None
    for index, label in enumerate(labels):
        if image is None or data_dir / label.set_name / label.file != path:  # an image's labels: one decode
            path = data_dir / label.set_name / label.file
            image = _labelled_image(data_dir, label)
        if label.box is None:
            continue
        for view in views:
            loose_crop = _cut_loose(image, label.box, view, index)
            start = time.perf_counter()
            read = reader.read_loose(loose_crop)
            outcomes.ms[view].append((time.perf_counter() - start) * 1000)
            outcomes.counts[view]["right" if read.status is ReadStatus.READ and read.text == label.compact else
                                  "wrong" if read.status is ReadStatus.READ else "unreadable"] += 1
    return outcomes


def voted_exact_rate(outcomes: Sequence[Outcome], min_confidence: float) -> float:
    """Exact reads per distinct plate of each set after the per-track vote (`pipeline.consensus.vote`) over
    every frame that plate was found in — what a perfect tracker would hand the consensus stage."""
    groups: dict[tuple[str, str], list[PlateRead]] = {}
    for o in outcomes:
        if o.label.readable:
            groups.setdefault((o.label.set_name, o.label.compact), [])
            if o.read is not None:
                groups[(o.label.set_name, o.label.compact)].append(o.read)
    right = sum(1 for (_, truth), reads in groups.items() if reads and vote(reads, min_confidence).text == truth)
    return right / max(1, len(groups))


def summarise(totals: Totals, min_confidence: float = 0.55) -> dict[str, float | None]:
    """The eval's measures; None where a measure has nothing to be measured on (detection recall without a
    labelled box, precision without a fully boxed image's detection): printed `n/a`, never a made-up 0."""
    boxed = [o for o in totals.outcomes if o.label.box is not None]
    readable = [o for o in totals.outcomes if o.label.readable]
    exact = [o for o in readable if o.read is not None and o.read.text == o.label.compact]
    distinct: dict[str, bool] = {}
    for o in readable:
        distinct[o.label.compact] = distinct.get(o.label.compact, False) or o in exact
    found_reads = [o for o in readable if o.read is not None]
    # Layout is judged on the plates read (an unreadable outcome has no layout); colour on every plate found.
    with_layout = [o for o in found_reads if o.read is not None and o.read.layout is not None]
    layout_ok = [o for o in with_layout if o.read is not None and o.read.layout is not None and
                 (o.read.layout is PlateLayout.TWO_LINE) == (o.label.lines == 2)]
    # Colour only where the label gives one (an empty colour cell is "not labelled", not a wrong colour).
    colour_judged = [o for o in found_reads if o.label.colour]
    colour_ok = [o for o in colour_judged if not _colour_wrong(o)]
    return {
        "plates": len(readable),
        "exact_read_rate": len(exact) / max(1, len(readable)),
        "exact_read_rate_distinct": sum(distinct.values()) / max(1, len(distinct)),
        "distinct_plates": len(distinct),
        "exact_read_rate_voted": voted_exact_rate(totals.outcomes, min_confidence),
        "detection_recall": sum(o.found for o in boxed) / len(boxed) if boxed else None,
        "detection_precision": totals.true_detections / totals.detections if totals.detections else None,
        "cer": statistics.fmean([cer(o.label.compact, o.read.text if o.read else "") for o in readable] or [0.0]),
        "layout_accuracy": len(layout_ok) / max(1, len(with_layout)),
        "colour_accuracy": len(colour_ok) / max(1, len(colour_judged)),
        "unreadable_outcomes": sum(1 for o in found_reads if o.read and o.read.status is ReadStatus.UNREADABLE),
        # What fines the wrong person: a plate read (not sent to review) as text other than its label's.
        "wrong_reads": sum(1 for o in found_reads if o.read and o.read.status is ReadStatus.READ
                           and o.read.text != o.label.compact),
        # Readable plates with no read matched to them (`not_detected` or `not_read` in the misses files): with the
        # unreadable outcomes and wrong reads (and right reads of a wrong colour), what `misses: N` counts.
        "plates_not_found": sum(1 for o in readable if o.read is None),
        "reads_off_labels": totals.reads_off_labels,
        "median_ms_per_image": statistics.median(totals.image_ms) if totals.image_ms else 0.0,
        "median_ms_per_plate": statistics.median(totals.plate_ms) if totals.plate_ms else 0.0,
        "median_cpu_ms_per_plate": statistics.median(totals.plate_cpu_ms) if totals.plate_cpu_ms else 0.0,
    }


def _jpeg_data_uri(image: ImageBGR | None) -> str:
    if image is None or image.size == 0:
        return ""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def _colour_wrong(o: Outcome) -> bool:
    """The read's colour differs from a labelled colour (never when the label has none)."""
    return bool(o.label.colour) and o.read is not None and o.read.colour.value != o.label.colour


def miss_status_reason(o: Outcome) -> tuple[str, str]:
    """A miss's status (`not_detected`, `not_read`, or the matched read's) and why, never empty."""
    r = o.read
    if r is None:
        return o.miss_status or NOT_READ, o.miss_reason or "no read of this image matched the plate"
    if r.reason:
        return r.status.value, r.reason
    wrong = [what for what, bad in (("text", r.text != o.label.compact), ("colour", _colour_wrong(o))) if bad]
    return r.status.value, (" and ".join(wrong) + (" differ" if len(wrong) > 1 else " differs") + " from the label"
                            if wrong else r.status.value)


def write_misses(totals: Totals, out_dir: Path) -> list[Outcome]:
    out_dir.mkdir(parents=True, exist_ok=True)
    misses = [o for o in totals.outcomes if o.label.readable and (o.read is None or o.read.text != o.label.compact
                                                                    or _colour_wrong(o))]
    with (out_dir / "misses.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["set", "file", "truth", "found", "read", "status", "colour_truth", "colour_read",
                         "confidence", "reason", "candidates"])
        for o in misses:
            r = o.read
            status, reason = miss_status_reason(o)
            writer.writerow([o.label.set_name, o.label.file, o.label.compact, int(o.found), r.text if r else "",
                             status, o.label.colour, r.colour.value if r else "", r.confidence if r else "", reason,
                             " ".join(f"{c.text}:{c.confidence:.2f}" for c in r.candidates) if r else ""])
    rows = []
    for o in misses:
        r = o.read
        status, reason = miss_status_reason(o)
        cands = html.escape(", ".join(f"{c.text} ({c.confidence:.2f})" for c in r.candidates)) if r else ""
        img = _jpeg_data_uri(o.crop)
        rows.append(f"<tr><td>{html.escape(o.label.set_name + '/' + o.label.file)}</td>"
                    f"<td>{f'<img src={chr(34)}{img}{chr(34)} height=80>' if img else status.replace('_', ' ')}</td>"
                    f"<td>{html.escape(o.label.compact)}<br>{html.escape(o.label.colour)}</td>"
                    f"<td>{html.escape(r.text or r.status.value) if r else '—'}<br>{r.colour.value if r else ''}</td>"
                    f"<td>{html.escape(reason)}</td><td>{cands}</td></tr>")
    page = ("<!doctype html><meta charset=utf-8><title>lez-anpr eval misses</title>"
            "<style>td{border:1px solid #ccc;padding:4px;font:14px sans-serif}</style>"
            f"<h1>{len(misses)} misses</h1><table><tr><th>image</th><th>crop</th><th>truth</th><th>read</th>"
            "<th>reason</th><th>candidates</th></tr>" + "".join(rows) + "</table>")
    (out_dir / "misses.html").write_text(page, encoding="utf-8")
    return misses

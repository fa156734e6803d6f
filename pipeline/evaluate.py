"""`lez-anpr eval --data DIR`: the full reading path over a labelled folder, measured.

Input: `DIR/labels.csv` (columns set, file, plate_compact, lines, colour, bbox_xyxy, readable, …) with images at
`DIR/<set>/<file>`. Per image: vehicle + plate detection on the whole frame, each detected plate read (OCR,
grammar, colour). A labelled plate is *found* by the detection with IoU ≥ 0.5 (where its box is labelled) and
*read* when that detection's text equals the label. Unlabelled boxes (no bbox) are matched by text instead.
Detection precision is counted on the images whose plates all have boxes (elsewhere a detection of an unboxed
plate cannot be told from a false one). Time per plate is wall time and, because the machine may be shared, also
the reading thread's CPU time (the OCR runs in that thread). Writes `misses.csv` and `misses.html` (crop, truth,
read, candidates) to the output folder. The last printed line is machine-readable.
"""

from __future__ import annotations

import base64
import csv
import html
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, PlateDetector, VehicleDetector, crop
from ocr.plate_reader import PlateReader
from pipeline.consensus import vote
from rules.types import PlateLayout, PlateRead, ReadStatus

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


@dataclass
class Outcome:
    label: Label
    found: bool
    read: PlateRead | None
    crop: ImageBGR | None


@dataclass
class Totals:
    outcomes: list[Outcome] = field(default_factory=list)
    detections: int = 0  # on fully boxed images
    true_detections: int = 0  # of those, the ones matching a labelled box at IoU ≥ 0.5
    image_ms: list[float] = field(default_factory=list)
    plate_ms: list[float] = field(default_factory=list)
    plate_cpu_ms: list[float] = field(default_factory=list)


LABEL_COLUMNS = ("set", "file", "plate_compact")


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
            if missing:
                raise LabelsError(f"{path}:1: missing column(s) {', '.join(missing)} "
                                  f"(needs {', '.join(LABEL_COLUMNS)}; optional lines, colour, bbox_xyxy, readable)")
            for row in reader:
                labels.append(_label_from_row(row, path, reader.line_num))
    except UnicodeDecodeError:
        raise LabelsError(f"{path}: not UTF-8 text") from None
    return labels


def _label_from_row(row: dict[str, str], path: Path, line: int) -> Label:
    try:
        box = None
        if row.get("bbox_xyxy"):
            x1, y1, x2, y2 = (float(v) for v in row["bbox_xyxy"].split(","))
            box = BoxXYXY(x1, y1, x2, y2)
        return Label(row["set"] or "", row["file"] or "", row["plate_compact"] or "", int(row.get("lines") or 0),
                     row.get("colour") or "", box, row.get("readable", "1") == "1")
    except (ValueError, TypeError) as exc:
        raise LabelsError(f"{path}:{line}: bad row ({exc})") from None


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
            outcomes.append(Outcome(label, False, None, None))
    return outcomes, len(used)


def evaluate(data_dir: Path, vehicle: VehicleDetector, plate_detector: PlateDetector, reader: PlateReader) -> Totals:
    labels = load_labels(data_dir)
    by_image: dict[tuple[str, str], list[Label]] = {}
    for label in labels:
        by_image.setdefault((label.set_name, label.file), []).append(label)
    totals = Totals()
    for (set_name, file), image_labels in sorted(by_image.items()):
        image = cv2.imread(str(data_dir / set_name / file), cv2.IMREAD_COLOR)
        if image is None:
            totals.outcomes += [Outcome(label, False, None, None) for label in image_labels]
            continue
        start = time.perf_counter()
        vehicle.detect([image])
        plates = plate_detector.detect([image])[0]
        h, w = image.shape[:2]
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
    return totals


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


def summarise(totals: Totals, min_confidence: float = 0.55) -> dict[str, float]:
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
    colour_ok = [o for o in found_reads if o.read is not None and o.read.colour.value == o.label.colour]
    boxed_detections = max(1, totals.detections)
    return {
        "plates": len(readable),
        "exact_read_rate": len(exact) / max(1, len(readable)),
        "exact_read_rate_distinct": sum(distinct.values()) / max(1, len(distinct)),
        "distinct_plates": len(distinct),
        "exact_read_rate_voted": voted_exact_rate(totals.outcomes, min_confidence),
        "detection_recall": sum(o.found for o in boxed) / max(1, len(boxed)),
        "detection_precision": totals.true_detections / boxed_detections,
        "cer": statistics.fmean([cer(o.label.compact, o.read.text if o.read else "") for o in readable] or [0.0]),
        "layout_accuracy": len(layout_ok) / max(1, len(with_layout)),
        "colour_accuracy": len(colour_ok) / max(1, len(found_reads)),
        "unreadable_outcomes": sum(1 for o in found_reads if o.read and o.read.status is ReadStatus.UNREADABLE),
        "median_ms_per_image": statistics.median(totals.image_ms) if totals.image_ms else 0.0,
        "median_ms_per_plate": statistics.median(totals.plate_ms) if totals.plate_ms else 0.0,
        "median_cpu_ms_per_plate": statistics.median(totals.plate_cpu_ms) if totals.plate_cpu_ms else 0.0,
    }


def _jpeg_data_uri(image: ImageBGR | None) -> str:
    if image is None or image.size == 0:
        return ""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def write_misses(totals: Totals, out_dir: Path) -> list[Outcome]:
    out_dir.mkdir(parents=True, exist_ok=True)
    misses = [o for o in totals.outcomes if o.label.readable and (o.read is None or o.read.text != o.label.compact
                                                                    or o.read.colour.value != o.label.colour)]
    with (out_dir / "misses.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["set", "file", "truth", "found", "read", "status", "colour_truth", "colour_read",
                         "confidence", "reason", "candidates"])
        for o in misses:
            r = o.read
            writer.writerow([o.label.set_name, o.label.file, o.label.compact, int(o.found), r.text if r else "",
                             r.status.value if r else "not_detected", o.label.colour, r.colour.value if r else "",
                             r.confidence if r else "", r.reason if r else "",
                             " ".join(f"{c.text}:{c.confidence:.2f}" for c in r.candidates) if r else ""])
    rows = []
    for o in misses:
        r = o.read
        cands = html.escape(", ".join(f"{c.text} ({c.confidence:.2f})" for c in r.candidates)) if r else ""
        img = _jpeg_data_uri(o.crop)
        rows.append(f"<tr><td>{html.escape(o.label.set_name + '/' + o.label.file)}</td>"
                    f"<td>{f'<img src={chr(34)}{img}{chr(34)} height=80>' if img else 'not detected'}</td>"
                    f"<td>{html.escape(o.label.compact)}<br>{html.escape(o.label.colour)}</td>"
                    f"<td>{html.escape(r.text or r.status.value) if r else '—'}<br>{r.colour.value if r else ''}</td>"
                    f"<td>{html.escape(r.reason) if r else ''}</td><td>{cands}</td></tr>")
    page = ("<!doctype html><meta charset=utf-8><title>lez-anpr eval misses</title>"
            "<style>td{border:1px solid #ccc;padding:4px;font:14px sans-serif}</style>"
            f"<h1>{len(misses)} misses</h1><table><tr><th>image</th><th>crop</th><th>truth</th><th>read</th>"
            "<th>reason</th><th>candidates</th></tr>" + "".join(rows) + "</table>")
    (out_dir / "misses.html").write_text(page, encoding="utf-8")
    return misses

"""Measure how the project's off-the-shelf models see the generated clips (a check on the generator's realism).

    python -m sample_videos.measure sample_videos/demo_gateway.truth.json [--models .state/models]

Reports plate-detector recall (whole frame, plates >= --min-width px, IoU >= 0.3), PP-OCR exact reads of
tight plate crops (readable plates), and how often the COCO detector finds each vehicle
(IoU >= 0.5 with its clipped box).
Needs the weights extracted by ``detectors.weights.fetch_all`` (see README.md); not used by any test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(".state/yolo").resolve()))

COCO_VEHICLES = {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _boxes(result: Any) -> list[tuple[list[float], int, float]]:
    b = result.boxes
    rows = zip(b.xyxy.tolist(), b.cls.tolist(), b.conf.tolist(), strict=True)
    return [(xyxy, int(c), float(p)) for xyxy, c, p in rows]


def _ocr_text(ocr: Any, crop: np.ndarray[Any, Any]) -> str:
    """Read a plate crop: text boxes grouped into lines (top to bottom), each line left to right."""
    result, _ = ocr(crop, use_cls=False, text_score=0.3, box_thresh=0.4, unclip_ratio=1.8)
    if not result:
        return ""
    boxes = sorted((min(p[1] for p in r[0]), max(p[1] for p in r[0]), min(p[0] for p in r[0]), str(r[1]))
                   for r in result)
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in boxes:
        if lines and box[0] < (lines[-1][0][0] + lines[-1][0][1]) / 2:  # starts above the line's middle
            lines[-1].append(box)
        else:
            lines.append([box])
    text = "".join(b[3] for line in lines for b in sorted(line, key=lambda b: b[2]))
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def measure(truth_path: Path, models: Path, min_width: float, every: int) -> dict[str, Any]:
    from rapidocr_onnxruntime import RapidOCR
    from ultralytics import YOLO  # type: ignore[attr-defined]

    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    plate_model: Any = YOLO(str(models / "plate_detector_model_1.pt"), task="detect")
    coco_model: Any = YOLO(str(models / "yolov8n.onnx"), task="detect")
    # The same settings as the project's PP-OCR engine (ocr/engines.py): a small detector input suits plates.
    ocr = RapidOCR(det_limit_side_len=160, det_limit_type="max", use_cls=False, min_height=16)
    by_frame: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for v in truth["vehicles"]:
        for t in v["track"]:
            by_frame[t["frame"]].append((v, t))
    cap = cv2.VideoCapture(str(truth_path.parent / truth["clip"]["file"]))
    plate_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    coco_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ocr_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ocr_samples: dict[str, list[str]] = defaultdict(list)
    false_plates = 0
    index = -1
    while True:
        ok, frame = cap.read()
        index += 1
        if not ok:
            break
        if index % every or index not in by_frame:
            continue
        plates = _boxes(plate_model.predict(frame, imgsz=640, conf=0.25, verbose=False)[0])
        vehicles = [b for b in _boxes(coco_model.predict(frame, imgsz=640, conf=0.25, verbose=False)[0])
                    if b[1] in COCO_VEHICLES]
        matched = set()
        for v, t in by_frame[index]:
            key = v["id"]
            if t["plate_visible"] and t["plate_width_px"] >= min_width:
                hit = [i for i, (b, _, _) in enumerate(plates) if iou(b, t["plate_xyxy"]) >= 0.3]
                matched.update(hit)
                plate_hits[key][0] += bool(hit)
                plate_hits[key][1] += 1
                x0, y0, x1, y1 = t["plate_xyxy"]
                mx, my = round(0.06 * (x1 - x0)), round(0.08 * (y1 - y0))
                crop = frame[max(0, y0 - my) : y1 + my, max(0, x0 - mx) : x1 + mx]
                text = _ocr_text(ocr, crop)
                ocr_hits[key][0] += text == v["plate_compact"]
                ocr_hits[key][1] += 1
                ocr_samples[key].append(text)
            coco_hits[key][0] += any(iou(b, t["vehicle_xyxy"]) >= 0.5 for b, _, _ in vehicles)
            coco_hits[key][1] += 1
        false_plates += len(plates) - len(matched)
    cap.release()
    readable = {v["id"] for v in truth["vehicles"] if v["readable"]}
    total = [sum(plate_hits[k][i] for k in plate_hits) for i in (0, 1)]
    ocr_total = [sum(ocr_hits[k][i] for k in ocr_hits if k in readable) for i in (0, 1)]
    return {
        "plate_recall": f"{total[0]}/{total[1]}",
        "plate_recall_by_vehicle": {k: f"{a}/{b}" for k, (a, b) in plate_hits.items()},
        "unmatched_plate_detections": false_plates,
        "ocr_exact_readable": f"{ocr_total[0]}/{ocr_total[1]}",
        "ocr_exact_by_vehicle": {k: f"{a}/{b}" for k, (a, b) in ocr_hits.items()},
        "ocr_samples": {k: sorted(set(s))[:6] for k, s in ocr_samples.items()},
        "coco_vehicle_recall": {k: f"{a}/{b}" for k, (a, b) in coco_hits.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure detector/OCR results on a generated clip.")
    parser.add_argument("truth", type=Path, nargs="+")
    parser.add_argument("--models", type=Path, default=Path(".state/models"))
    parser.add_argument("--min-width", type=float, default=90.0)
    parser.add_argument("--every", type=int, default=1, help="use every n-th frame")
    args = parser.parse_args(argv)
    for path in args.truth:
        print(path.name, json.dumps(measure(path, args.models, args.min_width, args.every), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

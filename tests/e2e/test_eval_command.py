"""`eval --data DIR` on a labelled folder the repo makes itself: frames of the bundled demo clip, its truth as
labels.csv. Real detectors and OCR; checks the report's shape and that it measures something real."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "demo_gateway.mp4"
LAST_LINE = re.compile(r"^exact_read_rate=(\d\.\d{4}) detection_recall=(\d\.\d{4}) colour_accuracy=(\d\.\d{4}) "
                       r"plates=(\d+)$")


def _labelled_folder(root: Path) -> int:
    """One frame per readable vehicle (its plate at its widest), written like ../shared/data/scenes."""
    truth = json.loads(CLIP.with_suffix(".truth.json").read_text())
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    (root / "demo").mkdir(parents=True)
    rows = []
    for vehicle in truth["vehicles"]:
        visible = [t for t in vehicle["track"] if t["plate_visible"] and t["plate_xyxy"]]
        if not vehicle["readable"] or not visible:
            continue
        best = max(visible, key=lambda t: t["plate_width_px"])
        name = f"{vehicle['id']}.png"
        cv2.imwrite(str(root / "demo" / name), frames[best["frame"]])
        rows.append({"set": "demo", "file": name, "plate_text": " ".join(vehicle["plate_display_lines"]),
                     "plate_compact": vehicle["plate_compact"], "lines": len(vehicle["plate_display_lines"]),
                     "colour": vehicle["plate_colour"], "vehicle": vehicle["vehicle_class"],
                     "bbox_xyxy": ",".join(str(round(v)) for v in best["plate_xyxy"]), "readable": 1,
                     "label_source": "generator", "notes": "", "source_repo": "", "source_path": "",
                     "source_commit": ""})
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def test_eval_reports_every_measure_and_ends_with_the_machine_readable_line(tmp_path: Path) -> None:
    plates = _labelled_folder(tmp_path / "data")
    assert plates >= 3
    # Run from another folder without --out: the misses go to out/eval there (the default).
    out = tmp_path / "out" / "eval"
    state = os.environ.get("LEZ_STATE_DIR", str(ROOT / ".state"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEZ_STATE_DIR": state}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "eval", "--data", str(tmp_path / "data")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    exact, recall, colour, n = float(match[1]), float(match[2]), float(match[3]), int(match[4])
    assert n == plates
    # The generator's plates at their widest are found and read (the rendered clips are the project's own).
    assert recall >= 0.75 and exact >= 0.5 and colour >= 0.75
    report = {line.split()[0]: line.split()[1] for line in lines[:-2] if len(line.split()) == 2}
    for key in ("detection_precision", "exact_read_rate_distinct", "exact_read_rate_voted", "cer",
                "layout_accuracy", "colour_accuracy", "median_ms_per_image", "median_ms_per_plate",
                "median_cpu_ms_per_plate"):
        assert key in report, key
    assert 0.0 <= float(report["cer"]) <= 1.0
    with (out / "misses.csv").open() as handle:
        header = next(csv.reader(handle))
    assert {"truth", "read", "candidates", "colour_truth", "colour_read"} <= set(header)
    assert "<table>" in (out / "misses.html").read_text()


def test_eval_on_a_folder_without_labels_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "eval", "--data", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert "labels.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_with_a_file_where_its_out_folder_goes_fails_before_any_work(tmp_path: Path) -> None:
    _labelled_folder(tmp_path / "data")
    (tmp_path / "out").write_text("a file, not a folder")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "eval", "--data", str(tmp_path / "data"),
                           "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert f"--out {tmp_path / 'out'}: a file is in the way" in proc.stderr
    assert "exact_read_rate" not in proc.stdout  # refused before the models ran


def test_eval_loose_crops_with_a_part_hidden_prints_one_column_per_header(tmp_path: Path) -> None:
    plates = _labelled_folder(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "eval", "--data", str(tmp_path / "data"),
                           "--loose-crops", "0,0.25", "--occlude", "cut-right"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    header, *rows, last = proc.stdout.strip().splitlines()
    assert header.split() == ["plate_px", "tilt", "hidden", "margin", "right", "wrong", "unreadable", "median_ms"]
    assert [row.split()[:4] for row in rows] == [["as-is", "0", "cut-right", m] for m in ("0.00", "0.25")]
    counted = sum(int(field) for row in rows for field in row.split()[4:7])
    assert counted == 2 * plates
    assert re.fullmatch(rf"loose_right_rate=\d\.\d{{4}} loose_wrong_rate=\d\.\d{{4}} crops={counted}", last), last


def test_eval_refuses_an_out_folder_it_would_not_use_or_an_empty_one(tmp_path: Path) -> None:
    _labelled_folder(tmp_path / "data")
    base = [sys.executable, "-m", "pipeline.cli", "eval", "--data", str(tmp_path / "data")]
    loose = subprocess.run([*base, "--loose-crops", "0", "--out", str(tmp_path / "o")], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert loose.returncode == 2 and "--out has no use with --loose-crops" in loose.stderr
    empty = subprocess.run([*base, "--out", ""], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and "empty folder name" in empty.stderr

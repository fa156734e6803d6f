"""`pipeline.score_run`: messages are mapped back to their image by capture time and counted against labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.score_run import main

LABELS = "set,file,plate_text,plate_compact,lines,colour,vehicle,bbox_xyxy,readable\n" \
         "s,a.jpg,30A-123.45,30A12345,1,white,car,,1\n" \
         "s,b.jpg,29-AA 123.45,29AA12345,2,white,motorbike,,1\n" \
         "s,b.jpg,,,2,white,motorbike,,0\n"


def _msg(second: int, text: str, status: str = "read") -> str:
    return json.dumps({"captured_at_utc": f"2026-07-03T12:00:{second:02d}Z", "plate": {"status": status, "text": text}})


def test_counts_exact_reads_per_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = tmp_path / "imgs"
    images.mkdir()
    for name in ("a.jpg", "b.jpg", "notes.txt"):
        (images / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text(LABELS)
    run = tmp_path / "run"
    run.mkdir()
    # a.jpg (index 0) read right; b.jpg (index 1) read wrong, plus an unreadable passage that must not count.
    lines = [_msg(0, "30A12345"), _msg(1, "29AA12346"), _msg(1, "", status="unreadable")]
    (run / "lez.plate-reads.v1.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["--run-out", str(run), "--labels", str(tmp_path / "labels.csv"), "--set", "s",
                 "--images", str(images)]) == 0
    out = capsys.readouterr().out
    assert "labelled_readable=2 exact=1 exact_rate=0.5000 published_reads=2 reads_matching_no_label=1" in out
    assert "30A" not in out  # counts only, never plate text

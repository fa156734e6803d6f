"""Replay building blocks without models: progress text, checkpoints, the resuming source, the gate, the report
rows and the manifest check (on a synthetic audit folder)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from pipeline import replay_checkpoint as cp
from pipeline.audit_manifest import verify, write_manifest
from pipeline.audit_report import ReplayFacts, build_rows, render_html, summary_counts, write_reports
from pipeline.progress import ProgressBar, format_eta, render
from pipeline.replay import deterministic_payload
from pipeline.replay_parts import GateSink, ResumingSource
from pipeline.sources import Frame
from sinks.memory import MemorySink

START = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)
IDENTITY = cp.ReplayIdentity("a" * 64, "b" * 64, "cam-1", START.isoformat(), "lez-anpr test")


# -- progress ----------------------------------------------------------------------------------------------------
def test_progress_line_shows_fraction_rate_and_eta() -> None:
    line = render(50, 200, 10.0)
    assert "25%" in line and "50/200 frames" in line and "10.0 fps" in line and "ETA 0:00:15" in line
    assert format_eta(3725) == "1:02:05" and render(3, 0, 1.0) == "3 frames  1.0 fps"
    assert "ETA ?" in render(0, 10, 0.0)


def test_progress_bar_writes_lines_to_a_non_terminal() -> None:
    stream, position = io.StringIO(), [0]
    with ProgressBar(lambda: position[0], 10, stream=stream, interval_s=0.01, log_every_s=0.0):
        position[0] = 10
    assert stream.getvalue().splitlines()[-1].startswith("replay [") and "100%" in stream.getvalue()


# -- checkpoints -------------------------------------------------------------------------------------------------
def test_checkpoint_round_trip_and_foreign_checkpoint_refused(tmp_path: Path) -> None:
    path = tmp_path / cp.CHECKPOINT_NAME
    saved = cp.Checkpoint(IDENTITY, next_seq=114, next_track_id=5, message_bytes={"x.jsonl": 10}, runs=2)
    cp.save(path, saved)
    assert cp.load(path) == saved
    other = cp.ReplayIdentity("c" * 64, "b" * 64, "cam-1", START.isoformat(), "lez-anpr test")
    with pytest.raises(cp.CheckpointError, match="input_sha256 differs"):
        cp.check_identity(cp.load(path), other, path)
    path.write_text("{not json")
    with pytest.raises(cp.CheckpointError, match="unreadable checkpoint"):
        cp.load(path)


def test_rewind_cuts_message_files_back_to_the_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"n": 1}\n{"n": 2}\n{"half')
    (tmp_path / "b.jsonl").write_text('{"late": true}\n')  # begun after the checkpoint
    cp.rewind_messages(tmp_path, cp.Checkpoint(IDENTITY, message_bytes={"a.jsonl": 9}))
    assert (tmp_path / "a.jsonl").read_text() == '{"n": 1}\n' and not (tmp_path / "b.jsonl").exists()
    with pytest.raises(cp.CheckpointError, match="shorter than its checkpoint"):
        cp.rewind_messages(tmp_path, cp.Checkpoint(IDENTITY, message_bytes={"a.jsonl": 99}))


# -- resuming source and gate ------------------------------------------------------------------------------------
@dataclass
class CountingSource:
    camera_id: str = "cam-1"
    live: bool = False
    decode_errors: int = 0
    stopped_early_reason: str = ""
    declared_frames: int = 8

    def frames(self) -> Iterator[Frame]:
        for seq in range(6):
            yield Frame(self.camera_id, seq, START + timedelta(seconds=seq / 10), np.zeros((4, 4, 3), np.uint8))
        self.decode_errors, self.stopped_early_reason = 3, "stopped after 3 decode errors"


def test_resuming_source_skips_to_its_start_and_keeps_numbers_and_times() -> None:
    source = ResumingSource(CountingSource(), start_seq=4)
    frames = list(source.frames())
    assert [f.seq for f in frames] == [4, 5]
    assert frames[0].event_time == START + timedelta(seconds=0.4)
    assert source.position == 6 and source.total_frames == 8
    assert source.stopped_early_reason == "stopped after 3 decode errors" and source.decode_errors == 3


def test_resuming_source_refuses_a_live_stream() -> None:
    with pytest.raises(ValueError, match="recorded source"):
        ResumingSource(CountingSource(live=True))


class Msg(BaseModel):
    camera_id: str


def test_gate_holds_back_everything_after_an_interruption() -> None:
    inner = MemorySink()
    gate = GateSink(inner)
    gate.publish("t", None, Msg(camera_id="a"))
    gate.close_gate()
    gate.publish("t", None, Msg(camera_id="b"))
    assert [m.camera_id for m in inner.messages("t")] == ["a"] and gate.held_back == 1


# -- report and manifest -----------------------------------------------------------------------------------------
def _read_message(track: int, outcome: str, sha: str, offset_s: float) -> dict[str, Any]:
    at = (START + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")
    return {
        "message_id": f"id-{track}", "track_id": track, "camera_id": "cam-1", "gateway_id": "gw-1",
        "captured_at_utc": at, "captured_at_local": at, "first_seen": at, "last_seen": at, "direction": "entry",
        "vehicle_class": "car", "processed_at_utc": "2030-01-01T00:00:00Z", "published_at": "2030-01-01T00:00:00Z",
        "plate": {"status": "unreadable" if outcome == "needs_review" else "read",
                  "text": None if outcome == "needs_review" else "30A12345", "lines": [], "layout": None,
                  "colour": "white", "confidence": 0.9, "colour_confidence": 1.0,
                  "candidates": [{"text": "30A1234", "confidence": 0.4, "source": "ppocr"}]},
        "decision": {"outcome": outcome, "zone_id": "z", "policy_id": "p" if outcome == "violation" else None,
                     "action": "fine" if outcome == "violation" else None, "legal_reference": "Decree <168>",
                     "reasons": ["because"]},
        "evidence": [{"kind": "plate_crop", "sha256": sha, "path": f"{sha[:2]}/{sha}.jpg", "bytes": 3}],
    }


def _facts(complete: bool = True) -> ReplayFacts:
    return ReplayFacts("clip.mp4", "a" * 64, "cam-1", START, "b" * 64, "test", {"vehicle_detector": "c" * 64},
                       (), complete, "" if complete else "stopped after 26 decode errors", 60, 150,
                       START + timedelta(seconds=4.7), 0, 0)


def _audit_folder(tmp_path: Path) -> Path:
    out = tmp_path / "audit"
    image = b"jpg"
    sha = hashlib.sha256(image).hexdigest()
    (out / "evidence" / sha[:2]).mkdir(parents=True)
    (out / "evidence" / sha[:2] / f"{sha}.jpg").write_bytes(image)
    reads = [_read_message(1, "needs_review", sha, 2.0), _read_message(0, "violation", sha, 1.0)]
    violation = {**reads[1], "violation_id": "v-0", "liability_window": "2026-07-03",
                 "registry": {"fuel": "petrol"}}
    (out / "messages").mkdir()
    (out / "messages" / "reads.jsonl").write_text("".join(json.dumps(m) + "\n" for m in reads))
    rows = build_rows(reads, [violation], START)
    files = write_reports(out, rows, _facts())
    write_manifest(out, {"input": {"path": str(tmp_path / "absent.mp4"), "sha256": "a" * 64}}, files)
    return out


def test_rows_are_in_timeline_order_with_violation_facts() -> None:
    sha = "d" * 64
    reads = [_read_message(1, "needs_review", sha, 2.0), _read_message(0, "violation", sha, 1.0)]
    rows = build_rows(reads, [{**reads[1], "violation_id": "v-0", "liability_window": "w", "registry": None}],
                      START)
    assert [r["track_id"] for r in rows] == [0, 1] and rows[0]["footage_offset_s"] == 1.0
    assert rows[0]["violation_id"] == "v-0" and rows[1]["violation_id"] is None
    assert rows[0]["evidence"][0]["path"] == f"evidence/dd/{sha}.jpg"
    assert summary_counts(rows) == {"passages": 2, "unreadable": 1, "violations": 1,
                                    "outcomes": {"needs_review": 1, "violation": 1}, "directions": {"entry": 2}}
    html = render_html(rows, _facts(complete=False))
    assert "INCOMPLETE: stopped after 26 decode errors" in html and "Decree &lt;168&gt;" in html
    assert "2030" not in html  # wall-clock fields stay out of the report


def test_verify_passes_then_names_each_changed_missing_or_added_file(tmp_path: Path) -> None:
    out = _audit_folder(tmp_path)
    result = verify(out)
    assert result.ok, result.problems
    assert result.files_checked == 4 and result.evidence_checked == 1
    assert any("not re-hashed" in n for n in result.notes)
    (out / "report.html").write_text("forged")
    image = next((out / "evidence").rglob("*.jpg"))
    image.write_bytes(b"other")
    (out / "evidence" / "00").mkdir()
    (out / "evidence" / "00" / "extra.jpg").write_bytes(b"x")
    (out / "passages.csv").unlink()
    problems = "\n".join(verify(out).problems)
    rel = image.relative_to(out).as_posix()
    assert "report.html: sha256" in problems and f"{rel}: sha256" in problems
    assert f"{rel}: content does not match its sha256" in problems
    assert "passages.csv: missing" in problems and "evidence/00/extra.jpg: not in the manifest" in problems


def test_verify_without_manifest_says_so(tmp_path: Path) -> None:
    assert "manifest.json: missing" in verify(tmp_path).problems[0]


def test_deterministic_payload_drops_only_wall_clock_fields() -> None:
    message = {"a": 1, "processed_at_utc": "x", "published_at": "y"}
    assert deterministic_payload(message) == {"a": 1}

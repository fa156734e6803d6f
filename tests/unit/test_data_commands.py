"""Operator commands in-process (`lez-anpr evidence|registry|permit`), the consume export, retention."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.cli import main
from sinks.evidence import EvidenceStore
from sinks.export import CSV_COLUMNS, Exporter
from sinks.schema import build_violation_message
from tests.unit.test_schema import make_ctx, make_decision, make_passage

KEY = "permit-office-secret-0001"


def _image(seed: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.random.default_rng(seed).integers(0, 256, size=(40, 80, 3), dtype=np.uint8)


def _store(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "evidence"
    store = EvidenceStore(root)
    return root, [store.put_jpeg(_image(i), "frame").path for i in range(3)]


def test_evidence_verify_ok_then_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, paths = _store(tmp_path)
    assert main(["evidence", "verify", str(root)]) == 0
    assert "3 file(s) checked, 0 reference(s) checked, 0 mismatch(es)" in capsys.readouterr().out
    target = root / paths[1]
    data = bytearray(target.read_bytes())
    data[50] ^= 0x01
    target.write_bytes(bytes(data))
    assert main(["evidence", "verify", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH {paths[1]}: content does not match its sha256" in out and "1 mismatch(es)" in out


def test_evidence_verify_checks_message_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = _store(tmp_path)
    store = EvidenceStore(root)
    ref = store.put_jpeg(_image(9), "plate_crop")
    message = build_violation_message(make_passage(), make_decision(), make_ctx())
    data = json.loads(message.model_dump_json())
    data["evidence"] = [{"kind": ref.kind, "sha256": ref.sha256, "path": ref.path, "bytes": ref.bytes},
                        {"kind": "frame", "sha256": "ab" * 32, "path": f"ab/{'ab' * 32}.jpg", "bytes": 1}]
    messages = tmp_path / "violations.jsonl"
    messages.write_text(json.dumps(data) + "\n")
    assert main(["evidence", "verify", str(root), "--messages", str(messages)]) == 1
    out = capsys.readouterr().out
    assert "referenced by a message but missing" in out and "2 reference(s) checked, 1 mismatch(es)" in out
    messages.write_text("not json\n")
    assert main(["evidence", "verify", str(root), "--messages", str(messages)]) == 3
    assert "violations.jsonl:1" in capsys.readouterr().err


def test_evidence_missing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "verify", str(tmp_path / "nope")]) == 3
    assert capsys.readouterr().err.strip() == f"lez-anpr: evidence folder not found: {tmp_path / 'nope'}"


def test_purge_honours_the_configured_retention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, paths = _store(tmp_path)
    old = time.time() - 91 * 86400
    os.utime(root / paths[0], (old, old))
    os.utime(root / paths[1], (old, old))
    EvidenceStore(root).put_jpeg(_image(1), "frame")  # stored again today: retention restarts for that file
    config = tmp_path / "box.yaml"
    config.write_text("cameras: [{id: c, source: x.mp4}]\nrules_file: r.yaml\nstorage: {evidence_retention_days: 90}\n")
    assert main(["evidence", "purge", str(root), "--config", str(config)]) == 0
    assert "deleted 1 evidence file(s) older than 90 day(s)" in capsys.readouterr().out
    assert not (root / paths[0]).exists() and (root / paths[1]).exists() and (root / paths[2]).exists()
    config.write_text("cameras: [{id: c, source: x.mp4}]\nrules_file: r.yaml\nstorage: {evidence_retention_dayz: 1}\n")
    assert main(["evidence", "purge", str(root), "--config", str(config)]) == 2
    assert "box.yaml:3: storage.evidence_retention_dayz" in capsys.readouterr().err


def test_registry_import_and_lookup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "reg.csv"
    source.write_text("plate,vehicle_class,fuel,emission_level,commercial,valid_from,valid_to,permits,exemptions\n"
                      "30A12345,car,petrol,3,false,2020-01-01,,,\n30A1,car,petrol,3,false,2020-01-01,,,\n")
    db = tmp_path / "reg.db"
    assert main(["registry", "import", str(source), "--db", str(db)]) == 1  # one bad row: reported, exit 1
    captured = capsys.readouterr()
    assert "imported 1 record(s), skipped 1" in captured.out and f"{source}:3:" in captured.err
    assert main(["registry", "lookup", "30A-123.45", "--db", str(db), "--at", "2026-07-03T19:00:00+07:00"]) == 0
    assert json.loads(capsys.readouterr().out)["fuel"] == "petrol"
    assert main(["registry", "lookup", "30A12345", "--db", str(db), "--at", "2019-07-03T19:00:00+07:00"]) == 1
    assert json.loads(capsys.readouterr().out) == {"found": False}
    assert main(["registry", "lookup", "30A12345", "--db", str(db), "--at", "2026-07-03T19:00:00"]) == 2
    assert main(["registry", "import", str(tmp_path / "none.csv"), "--db", str(db)]) == 3


def test_permit_issue_and_verify(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEZ_PERMIT_KEY", KEY)
    assert main(["permit", "issue", "--id", "P-7", "--plate", "30A-123.45", "--zone", "hk-area1",
                 "--from", "2026-07-01", "--to", "2026-07-31"]) == 0
    payload = capsys.readouterr().out.strip()
    check = ["permit", "verify", payload, "--plate", "30A12345", "--zone", "hk-area1"]
    assert main([*check, "--on", "2026-07-31"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "valid"
    assert main([*check, "--on", "2026-08-01"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "expired"
    # Signature only (no --plate/--zone): dates still count, today in Hanoi unless --on says otherwise.
    assert main(["permit", "verify", payload, "--on", "2026-08-01"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "expired"
    assert main(["permit", "verify", payload, "--on", "2026-06-30"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "not_yet_valid"
    assert main(["permit", "verify", payload, "--on", "2026-07-15"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "valid"
    assert main(["permit", "verify", payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "bad_signature"
    monkeypatch.delenv("LEZ_PERMIT_KEY")
    assert main(["permit", "verify", payload]) == 2
    assert "LEZ_PERMIT_KEY is not set" in capsys.readouterr().err


def test_export_csv_and_jsonl_deduplicate_across_runs(tmp_path: Path) -> None:
    messages = [build_violation_message(make_passage(track_id=i), make_decision(), make_ctx()) for i in range(3)]
    for name in ("out.csv", "out.jsonl"):
        path = tmp_path / name
        first = Exporter(path)
        assert [first.write(m) for m in (*messages[:2], messages[0])] == [True, True, False]
        first.close()
        second = Exporter(path)  # a restarted consumer: ids come back from the file
        assert [second.write(m) for m in messages] == [False, False, True]
        second.close()
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [r["violation_id"] for r in rows] == [str(m.violation_id) for m in messages]
    assert tuple(rows[0]) == CSV_COLUMNS and rows[0]["liability_window"] == "2026-07-03"
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3


def test_export_survives_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    messages = [build_violation_message(make_passage(track_id=i), make_decision(), make_ctx()) for i in range(2)]
    path = tmp_path / "out.jsonl"
    path.write_text(messages[0].model_dump_json() + "\n" + messages[1].model_dump_json()[:40])
    exporter = Exporter(path)
    assert exporter.write(messages[1]) and not exporter.write(messages[0])
    exporter.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["violation_id"] == str(messages[1].violation_id)


def test_box_runs_on_a_sqlite_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Import the demo registry into SQLite, point the rules at it, and the box config validates and decides."""
    from datetime import UTC, datetime

    from pipeline.app import load_config
    from rules.registry_db import RegistryDb

    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "registry.sqlite"
    assert main(["registry", "import", str(root / "configs/demo/registry.csv"), "--db", str(db)]) == 0
    rules = (root / "configs/demo/rules.yaml").read_text(encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(rules.replace("registry_path: registry.csv", f"registry_path: {db}"))
    box = (root / "configs/demo/demo.yaml").read_text(encoding="utf-8")
    (tmp_path / "demo.yaml").write_text(box.replace("../../sample_videos", str(root / "sample_videos")))
    capsys.readouterr()
    assert main(["validate-config", str(tmp_path / "demo.yaml")]) == 0
    assert "6 registry record(s)" in capsys.readouterr().out
    loaded = load_config(tmp_path / "demo.yaml")
    assert isinstance(loaded.registry, RegistryDb)
    record = loaded.registry.lookup("30K56789", datetime(2026, 7, 3, 12, tzinfo=UTC))
    assert record is not None and record.emission_level == 2

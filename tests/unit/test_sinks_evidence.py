"""Evidence store: content addressing, tamper detection, retention; JSONL and memory sinks."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sinks.base import Sink
from sinks.evidence import EvidenceRef, EvidenceStore, verify
from sinks.jsonl import JsonlSink
from sinks.memory import MemorySink
from sinks.schema import TOPIC_VIOLATIONS, build_violation_message
from tests.unit.test_schema import make_ctx, make_decision, make_passage


def _image(seed: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(48, 96, 3), dtype=np.uint8)


def test_put_jpeg_is_content_addressed(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    ref = store.put_jpeg(_image(1), "plate_crop")
    data = (tmp_path / ref.path).read_bytes()
    assert data[:2] == b"\xff\xd8"  # JPEG
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.bytes == len(data)
    assert ref.path == f"{ref.sha256[:2]}/{ref.sha256}.jpg"
    again = store.put_jpeg(_image(1), "frame")
    assert again.sha256 == ref.sha256 and again.kind == "frame"  # same pixels, same file
    assert store.put_jpeg(_image(2), "frame").sha256 != ref.sha256
    assert store.open_bytes(ref) == data
    assert verify(tmp_path) == []


def test_verify_detects_tamper_and_stray_files(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    ref = store.put_jpeg(_image(3), "frame")
    path = tmp_path / ref.path
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "notes.txt").write_text("x")
    problems = store.verify()
    assert {p.path for p in problems} == {ref.path, "zz/notes.txt"}
    tampered = next(p for p in problems if p.path == ref.path)
    assert tampered.expected_sha256 == ref.sha256 and tampered.actual_sha256 != ref.sha256
    with pytest.raises(ValueError, match="does not match"):
        store.open_bytes(ref)


def test_purge_older_than(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    old = store.put_jpeg(_image(4), "frame")
    new = store.put_jpeg(_image(5), "frame")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(tmp_path / old.path, (ten_days_ago, ten_days_ago))
    assert store.purge_older_than(days=7) == 1
    assert not (tmp_path / old.path).exists() and (tmp_path / new.path).exists()


def test_evidence_ref_validates() -> None:
    with pytest.raises(ValueError):
        EvidenceRef("frame", "nothex", "x", 1)


def test_jsonl_and_memory_sinks_implement_sink(tmp_path: Path) -> None:
    msg = build_violation_message(make_passage(), make_decision(), make_ctx())
    jsonl, memory = JsonlSink(tmp_path / "out"), MemorySink()
    for sink in (jsonl, memory):
        assert isinstance(sink, Sink)
        sink.publish(TOPIC_VIOLATIONS, b"k", msg)
        sink.publish(TOPIC_VIOLATIONS, b"k", msg)
        assert sink.flush(1.0)
        sink.close()
    lines = (tmp_path / "out" / f"{TOPIC_VIOLATIONS}.jsonl").read_text().splitlines()
    assert [json.loads(line)["violation_id"] for line in lines] == [str(msg.violation_id)] * 2
    assert memory.messages(TOPIC_VIOLATIONS) == [msg, msg]
    with pytest.raises(ValueError):
        JsonlSink(tmp_path).path_for("../evil")

"""The manifest of an audit folder and `lez-anpr audit verify DIR`.

`manifest.json` names what the replay ran on (the recording's sha256, the config hash, model hashes, software
version, start time) and the sha256 of every file the replay wrote: the report files, the published messages and
every evidence image. `verify` re-hashes all of them and lists each file that is missing, changed or unexpected;
evidence images are also checked against their own content-addressed names and against the messages that refer to
them. A manifest is written last: a folder without one is an unfinished replay.

What it does not prove: that the manifest itself is the one the replay wrote. Sign or archive `manifest.json`'s
sha256 elsewhere (e.g. with the case file) to close that gap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sinks.evidence import sha256_file
from sinks.evidence import verify as verify_evidence_store

MANIFEST_NAME = "manifest.json"
FORMAT = "lez-anpr-audit/1"
EVIDENCE_DIR, MESSAGES_DIR = "evidence", "messages"



def _evidence_files(out_dir: Path) -> dict[str, str]:
    root = out_dir / EVIDENCE_DIR
    if not root.is_dir():
        return {}
    return {p.relative_to(out_dir).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".tmp-")}


def write_manifest(out_dir: Path, facts: Mapping[str, Any], report_files: list[Path]) -> Path:
    """`facts`: input, config, models, software, replay and result sections (plain JSON data)."""
    files = [*report_files, *sorted((out_dir / MESSAGES_DIR).glob("*.jsonl"))]
    body = {
        "format": FORMAT, **facts,
        "files": {p.relative_to(out_dir).as_posix(): sha256_file(p) for p in files},
        "evidence": _evidence_files(out_dir),
    }
    path = out_dir / MANIFEST_NAME
    path.write_text(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass
class VerifyResult:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    evidence_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_listed(out_dir: Path, listed: Mapping[str, str], result: VerifyResult) -> None:
    for rel, expected in sorted(listed.items()):
        path = out_dir / rel
        if not path.is_file():
            result.problems.append(f"{rel}: missing")
            continue
        actual = sha256_file(path)
        if actual != expected:
            result.problems.append(f"{rel}: sha256 {actual} does not match the manifest's {expected}")


def _referenced_evidence(out_dir: Path) -> set[str]:
    refs: set[str] = set()
    for path in sorted((out_dir / MESSAGES_DIR).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # the file's own hash check reports the damage
            for ref in message.get("evidence", []) if isinstance(message, dict) else []:
                refs.add(f"{EVIDENCE_DIR}/{ref.get('path', '')}")
    return refs


def _check_input(manifest: Mapping[str, Any], recording: Path | None, result: VerifyResult) -> None:
    recorded = manifest.get("input", {})
    path = recording or Path(recorded.get("path", ""))
    if not path.is_file():
        result.notes.append(f"recording not re-hashed: {path} is not here (pass --input FILE)")
        return
    actual = sha256_file(path)
    if actual != recorded.get("sha256"):
        result.problems.append(f"recording {path}: sha256 {actual} does not match the manifest's "
                               f"{recorded.get('sha256')}")
    else:
        result.notes.append(f"recording {path.name}: sha256 matches")


def verify(out_dir: Path, recording: Path | None = None) -> VerifyResult:
    """Re-check an audit folder against its manifest; `result.problems` names every file that does not match."""
    result = VerifyResult()
    manifest_path = out_dir / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        result.problems.append(f"{MANIFEST_NAME}: missing (not an audit folder, or an unfinished replay)")
        return result
    except (OSError, json.JSONDecodeError) as exc:
        result.problems.append(f"{MANIFEST_NAME}: unreadable ({type(exc).__name__})")
        return result
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        result.problems.append(f"{MANIFEST_NAME}: not a {FORMAT} manifest")
        return result
    files, evidence = dict(manifest.get("files", {})), dict(manifest.get("evidence", {}))
    _check_listed(out_dir, files, result)
    _check_listed(out_dir, evidence, result)
    result.files_checked, result.evidence_checked = len(files), len(evidence)
    present = _evidence_files(out_dir)
    for rel in sorted(present.keys() - evidence.keys()):
        result.problems.append(f"{rel}: not in the manifest (added after the replay)")
    for mismatch in verify_evidence_store(out_dir / EVIDENCE_DIR):
        result.problems.append(f"{EVIDENCE_DIR}/{mismatch.path}: {mismatch.reason}")
    for rel in sorted(_referenced_evidence(out_dir) - evidence.keys()):
        result.problems.append(f"{rel}: referenced by a message but not in the manifest")
    _check_input(manifest, recording, result)
    return result

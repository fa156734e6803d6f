"""Resume state of an audit replay: where to continue after an interruption, and what was written before it.

A checkpoint is taken only at an *idle point* (`pipeline.runtime.IdlePoint`): the tracker holds no open track and
every earlier passage has been emitted. Continuing from there with a fresh tracker that numbers tracks from
`next_track_id` gives the same passages as an uninterrupted replay, so the final audit folder is the same.

The message files are append-only JSON Lines; the checkpoint records their sizes after an fsync, and a resume cuts
them back to those sizes (dropping whatever was written after the checkpoint, which the resumed run writes again).
The file is replaced atomically (temp file + rename), so a `kill -9` leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

CHECKPOINT_NAME = "checkpoint.json"
FORMAT = "lez-anpr-replay-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this replay; the message says why in one line."""


@dataclass(frozen=True)
class ReplayIdentity:
    """What must be equal for a checkpoint to belong to this replay."""

    input_sha256: str
    config_sha256: str
    camera_id: str
    start_time: str
    software_version: str


@dataclass(frozen=True)
class Checkpoint:
    identity: ReplayIdentity
    next_seq: int = 0
    next_track_id: int = 0
    message_bytes: dict[str, int] = field(default_factory=dict)  # file name under messages/ → size in bytes
    dropped_frames: int = 0
    runs: int = 1  # how many runs (1 + resumes) contributed

    def __post_init__(self) -> None:
        if self.next_seq < 0 or self.next_track_id < 0:
            raise ValueError("next_seq and next_track_id must be >= 0")


def save(path: Path, checkpoint: Checkpoint) -> None:
    body = {"format": FORMAT, **asdict(checkpoint)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> Checkpoint:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.pop("format", None) != FORMAT:
            raise CheckpointError(f"{path}: not a replay checkpoint (format {FORMAT} expected)")
        identity = ReplayIdentity(**body.pop("identity"))
        return Checkpoint(identity=identity, **body)
    except (OSError, json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None


def check_identity(checkpoint: Checkpoint, expected: ReplayIdentity, path: Path) -> None:
    for name, want in asdict(expected).items():
        have = getattr(checkpoint.identity, name)
        if have != want:
            raise CheckpointError(f"{path} belongs to another replay ({name} differs: {have!r} != {want!r}); "
                                  f"use a new --out folder")


def rewind_messages(messages_dir: Path, checkpoint: Checkpoint) -> None:
    """Cut every message file back to its checkpointed size; files begun after the checkpoint are removed."""
    messages_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(messages_dir.glob("*.jsonl")):
        size = checkpoint.message_bytes.get(path.name)
        if size is None:
            path.unlink()
            continue
        if path.stat().st_size < size:
            raise CheckpointError(f"{path} is shorter than its checkpoint says ({path.stat().st_size} < {size} "
                                  f"bytes): the audit folder was changed; use a new --out folder")
        with path.open("r+b") as fh:
            fh.truncate(size)
    missing = [name for name, size in checkpoint.message_bytes.items()
               if size > 0 and not (messages_dir / name).is_file()]
    if missing:
        raise CheckpointError(f"message files named by the checkpoint are missing: {missing}; use a new --out folder")


def message_sizes(messages_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(messages_dir.glob("*.jsonl"))}

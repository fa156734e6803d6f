"""Content-addressed evidence store: frames and crops as JPEG files named by their sha256.

Layout: ``<root>/<sha[:2]>/<sha>.jpg``. A file's name is its own integrity check (:func:`verify`), the same image is
stored once, and a message refers to evidence by (kind, sha256, path, bytes) — the hash a court can recompute.
Writes are atomic (temp file + rename), so a crash never leaves a half-written file under a valid name.

Retention: plates and faces in frames are personal data (Decree 13/2023); :meth:`EvidenceStore.purge_older_than`
deletes files by age. Keep the retention longer than the longest outbox backlog you tolerate, or a delayed
violation may reference purged evidence. Never serve this folder without authentication.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX = ".jpg"


@dataclass(frozen=True)
class EvidenceRef:
    """A pointer to one stored evidence file. `path` is relative to the store root (posix separators)."""

    kind: str
    sha256: str
    path: str
    bytes: int

    def __post_init__(self) -> None:
        if not self.kind:
            raise ValueError("evidence kind must not be empty")
        if not _SHA_RE.match(self.sha256):
            raise ValueError(f"not a sha256 hex digest: {self.sha256!r}")
        if self.bytes < 0:
            raise ValueError("bytes must be >= 0")


@dataclass(frozen=True)
class Mismatch:
    """A file whose content does not hash to its name (tampered, corrupt) or that does not belong in the store."""

    path: str
    expected_sha256: str
    actual_sha256: str
    reason: str


def relative_path(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}{_SUFFIX}"


def encode_jpeg(image: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    """JPEG bytes of a BGR (or grey) uint8 image. libjpeg is deterministic: same pixels → same bytes."""
    import cv2  # local: importing OpenCV is slow and only the evidence path needs it

    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a non-empty uint8 HxW or HxWxC image, got {image.dtype} {image.shape}")
    ok, buf = cv2.imencode(_SUFFIX, image, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


class EvidenceStore:
    """Thread-safe by construction: writers never modify an existing file, and renames are atomic."""

    def __init__(self, root: Path, jpeg_quality: int = 90) -> None:
        self.root = Path(root)
        self.jpeg_quality = jpeg_quality
        self.root.mkdir(parents=True, exist_ok=True)

    def put_jpeg(self, image: npt.NDArray[np.uint8], kind: str) -> EvidenceRef:
        return self.put_bytes(encode_jpeg(image, self.jpeg_quality), kind)

    def put_bytes(self, data: bytes, kind: str) -> EvidenceRef:
        """Store already-encoded JPEG bytes (e.g. the camera's own frame) under their sha256."""
        sha = hashlib.sha256(data).hexdigest()
        rel = relative_path(sha)
        target = self.root / rel
        if target.exists():
            # Retention counts from the latest reference: the same image stored again must not be purged early.
            os.utime(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return EvidenceRef(kind=kind, sha256=sha, path=rel, bytes=len(data))

    def open_bytes(self, ref: EvidenceRef) -> bytes:
        """Read back and check the hash; raises ValueError on a mismatch."""
        data = (self.root / ref.path).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.sha256:
            raise ValueError(f"evidence {ref.path} does not match its sha256")
        return data

    def verify(self) -> list[Mismatch]:
        return verify(self.root)

    def purge_older_than(self, days: float, now_s: float | None = None) -> int:
        """Delete evidence files whose mtime is older than `days`; returns how many were deleted."""
        if days < 0:
            raise ValueError("days must be >= 0")
        cutoff = (time.time() if now_s is None else now_s) - days * 86400.0
        deleted = 0
        for path in self._files():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:  # purged concurrently
                continue
        for sub in self.root.iterdir():
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()
        return deleted

    def _files(self) -> list[Path]:
        return sorted(p for p in self.root.glob(f"*/*{_SUFFIX}") if not p.name.startswith(".tmp-"))


def verify(root: Path) -> list[Mismatch]:
    """Re-hash every file under `root`; list those whose content or location disagrees with their name."""
    return verify_report(root)[1]


def verify_report(root: Path) -> tuple[int, list[Mismatch]]:
    """(files checked, mismatches) for `lez-anpr evidence verify`."""
    root = Path(root)
    mismatches: list[Mismatch] = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))
    for path in files:
        rel = path.relative_to(root).as_posix()
        expected = path.name.removesuffix(_SUFFIX)
        actual = sha256_file(path)
        if not _SHA_RE.match(expected) or rel != relative_path(expected):
            mismatches.append(Mismatch(rel, expected, actual, "unexpected file name or location"))
        elif actual != expected:
            mismatches.append(Mismatch(rel, expected, actual, "content does not match its sha256"))
    return len(files), mismatches


def verify_refs(root: Path, refs: Iterable[EvidenceRef]) -> list[Mismatch]:
    """Check that every evidence file a message refers to is there and still hashes to the reference."""
    mismatches = []
    for ref in refs:
        path = Path(root) / ref.path
        if not path.is_file():
            mismatches.append(Mismatch(ref.path, ref.sha256, "", "referenced by a message but missing (purged?)"))
            continue
        actual = sha256_file(path)
        if actual != ref.sha256 or ref.path != relative_path(ref.sha256):
            mismatches.append(Mismatch(ref.path, ref.sha256, actual, "does not match the message's sha256"))
    return mismatches


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks (evidence, recordings, audit folders)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

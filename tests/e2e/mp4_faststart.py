"""Move an MP4's index (`moov`) in front of its media data, like ffmpeg's `-movflags +faststart` (test helper).

The committed sample clips are written by OpenCV with the index at the end, so a truncated copy has no index at
all and cannot be opened. Cameras and recorders usually write the index first (or fragment the file): a truncated
recording then decodes up to the damage. The bad-input test truncates a faststart copy to reproduce that case.
"""

from __future__ import annotations

import struct
from pathlib import Path

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta"}


def _atoms(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    """(type, offset, header size, total size) of each atom in data[start:end]."""
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise ValueError(f"bad atom size at offset {pos}")
        out.append((kind, pos, header, size))
        pos += size
    return out


def _shift_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    for kind, pos, header, size in _atoms(bytes(moov), start, end):
        body = pos + header
        if kind in _CONTAINERS:
            _shift_offsets(moov, body, pos + size, delta)
        elif kind in (b"stco", b"co64"):
            count = struct.unpack(">I", moov[body + 4:body + 8])[0]
            width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
            for i in range(count):
                at = body + 8 + i * width
                struct.pack_into(fmt, moov, at, struct.unpack(fmt, moov[at:at + width])[0] + delta)


def faststart(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    top = _atoms(data, 0, len(data))
    kinds = [a[0] for a in top]
    if b"moov" not in kinds or b"mdat" not in kinds:
        raise ValueError(f"{src}: not an MP4 with moov and mdat atoms")
    if kinds.index(b"moov") < kinds.index(b"mdat"):
        dst.write_bytes(data)
        return
    _, mpos, _, msize = top[kinds.index(b"moov")]
    moov = bytearray(data[mpos:mpos + msize])
    _shift_offsets(moov, 0, len(moov), msize)  # every media byte moves down by the index's size
    head = [a for a in top if a[0] == b"ftyp"]
    rest = [a for a in top if a[0] not in (b"ftyp", b"moov")]
    out = b"".join(data[p:p + s] for _, p, _, s in head) + bytes(moov)
    out += b"".join(data[p:p + s] for _, p, _, s in rest)
    dst.write_bytes(out)

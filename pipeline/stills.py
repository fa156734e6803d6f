"""Still images from files, decoded whole or refused with the reason.

OpenCV decodes a JPEG cut short (a copy interrupted, a card pulled out) without an error: libjpeg warns "Premature
end of JPEG file" on stderr, without the file's name, and fills the missing rows grey. The plate in those rows is
then "not a plate" and the image looks read when half of it was never there. So a JPEG's structure is walked to
its end-of-image marker first, and one that ends before it is refused like any other damaged file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and the restart markers: no length field


class StillError(ValueError):
    """Why an image file cannot be used, in words for the person who gave it."""


def jpeg_is_truncated(data: bytes) -> bool:
    """True when `data` is a JPEG stream that ends before its end-of-image marker. Segments are skipped by their
    lengths (an EXIF thumbnail's own markers stay inside its segment), entropy-coded data up to the next real
    marker; bytes after the end-of-image marker (some cameras append data there) are not looked at. Anything
    that is not a JPEG, or not one this walk understands, is False: the decoder judges it."""
    n = len(data)
    if n < 2 or data[0] != 0xFF or data[1] != _SOI:
        return False
    i = 2
    while i + 1 < n:
        if data[i] != 0xFF:
            return False
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == _EOI:
            return False
        if marker in _STANDALONE:
            i += 2
            continue
        if i + 4 > n:
            return True
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker == _SOS:
            i = _end_of_scan(data, i)
            if i < 0:
                return True
    return True


def _end_of_scan(data: bytes, start: int) -> int:
    """Where the marker after a scan's entropy-coded data starts (-1: the data runs to the end). Inside the data
    0xFF is followed by a stuffed 0x00 or is a restart marker."""
    i = start
    while True:
        j = data.find(b"\xff", i)
        if j < 0 or j + 1 >= len(data):
            return -1
        following = data[j + 1]
        if following == 0x00 or following == 0xFF or 0xD0 <= following <= 0xD7:
            i = j + 1
            continue
        return j


def load_still(path: Path) -> ImageBGR:
    """`path` decoded as a BGR image (8-bit, 3 channels; grey and 16-bit files converted), or StillError."""
    if not path.exists():
        raise StillError("file not found")
    if path.is_dir():
        raise StillError(f"is a folder: give its images (e.g. {path}/*.jpg)")
    if not path.is_file():
        raise StillError("not a regular file (a device, pipe or socket)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StillError(f"cannot be read: {exc.strerror or exc}") from None
    if jpeg_is_truncated(data):
        raise StillError("damaged: the JPEG ends before its end-of-image marker (cut short)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise StillError("cannot read image (not an image, or damaged)")
    decoded: ImageBGR = image
    return decoded

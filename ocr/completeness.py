"""Is a read line whole? A plate with a character hidden — by mud, a bike rack, a sticker or the frame's edge — is
read by the recogniser as the characters it can see, and a Vietnamese plate one character shorter is often still
a valid plate (an old four-digit serial, a two-line car's `30A` for a motorbike's `30-A1`): a sure, wrong read.

The printed separators tell. A plate prints its five-digit serial as `123.45` (DOMAIN §3): a dot read with other
than three characters before it (back to the line's start or the separator before it) or two after it (to the
line's end) has lost a character next to it. And the motorbike's upper line `29-B1` carries two characters after
its hyphen: a hyphen with one character after it, ending the line, has lost the second. The recogniser reads
the separators as it reads the characters (they are in its charset), so what it saw of the plate's layout is
checked against what it read of its characters. A separator it did not see (hidden or too faint) tells nothing:
this catches a hidden character next to a visible separator, not every one.

A character taped over in the plate's own colour leaves a gap: the recogniser reads the characters either side
of it with two character pitches between them where a plate has one (`gap_between_characters`, on the time steps
where the recogniser's characters peaked).

A dark block over a character (mud, a bracket) is also read as a character or dropped: the recogniser takes a
bar for a `1`. No glyph is a solid patch of ink as wide as two of its strokes and half the line high, so such a
patch inside the plate is `covered_character`. All three are measured with `training.stress_rendered --occlude`,
and the gap and the patch were sized there (docs/accuracy.md), never on the evaluation photos.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]

_SEPARATED = re.compile(r"[-.]")


def missing_character(raw_line: str) -> str:
    """Why a character of this line (as the recogniser read it, separators and all) seems missing: "" when
    nothing says so."""
    text = "".join(ch for ch in raw_line.upper() if ch.isalnum() or ch in "-.")
    pieces = _SEPARATED.split(text)
    separators = _SEPARATED.findall(text)
    for i, sep in enumerate(separators):
        before, after = pieces[i], pieces[i + 1]
        last = i == len(separators) - 1
        if sep == ".":
            if last and len(after) != 2:
                return f"{len(after)} character(s) after the printed dot, where a plate has 2"
            if len(before) < 3 or (i > 0 and len(before) != 3):
                return f"{len(before)} character(s) before the printed dot, where a plate has 3"
        elif last and len(after) == 1 and len(before) == 2:
            return "1 character after the hyphen of a motorbike's upper line, where a plate has 2"
    return ""


# A gap between two characters read side by side (no separator between them), in character pitches (the median
# step between the line's characters): the recogniser's time steps are coarse (a character about 2 apart), so on
# rendered plates a whole line's steps were 1.5 pitches at most, and a character painted over in the plate's own
# colour left 2 or more (seed 5, 120 plates as rendered and 60 px wide: no clean plate flagged, 57 of 81 such
# wrong reads caught).
_GAP_PITCHES = 2.0


def gap_between_characters(text: str, positions: Sequence[int]) -> str:
    """Why a character seems hidden between two read side by side (`positions`: each character's column in the
    recogniser's steps): "" when nothing says so, or when there are no positions."""
    if len(positions) != len(text):
        return ""
    chars = [(k, t) for k, (ch, t) in enumerate(zip(text, positions, strict=True)) if ch.isalnum()]
    if len(chars) < 3:
        return ""
    steps = [(b_t - a_t, b_k - a_k > 1) for (a_k, a_t), (b_k, b_t) in itertools.pairwise(chars)]
    pitch = float(np.median([step for step, _ in steps]))
    widest = max((step for step, across_separator in steps if not across_separator), default=0)
    if pitch > 0 and widest >= _GAP_PITCHES * pitch:
        return f"a gap of {widest / pitch:.1f} characters between two characters"
    return ""


def hidden_in_line(raw_line: str, positions: Sequence[int] = ()) -> str:
    """`missing_character`, else `gap_between_characters`."""
    return missing_character(raw_line) or gap_between_characters(raw_line, positions)


# A solid patch, as shares of a line image's height: what survives an opening this wide and this high (the plate
# font's strokes are about a sixth of the line high, vertical motion blur lengthens them but does not widen them),
# and is at least this high. On rendered plates (seed 5, 120 plates, blur 0-24 px; as rendered, 60 and 200 px
# wide), with the ink's polarity from the plate's colour, it sent no clean plate to review and caught 42, 48 and
# 41 of 120 one-character blocks the separator rule had not (the gap check and the confidence gates most others;
# 1-4 of 120 blocks are still read).
_PATCH_WIDTH, _PATCH_HEIGHT, _PATCH_MIN_HEIGHT = 0.36, 0.24, 0.4
_INK_SHARE = 0.35  # of the way from the ink's extreme to Otsu's threshold: still ink
_MIN_LINE_HEIGHT_PX = 12  # smaller lines are left alone: a glyph's strokes there are one or two pixels


def covered_character(lines: list[ImageBGR], dark_ink: bool | None = None) -> str:
    """Why something seems stuck over a character of these line images (a located plate's lines): "" when
    nothing is. The ink is dark on a white or yellow plate and light on a blue or red one (`dark_ink`, from the
    plate's colour); where the colour is not known, the minority side of Otsu's threshold over the whole plate
    (one line alone can be mostly ink, five digits and a block; but a tilted plate's lines can hold more car
    body than plate, which flips the majority). Patches touching a line's sides are the plate's frame or what
    lies beyond it."""
    greys = [cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line for line in lines]
    bands = [grey[grey.shape[0] // 10: grey.shape[0] - grey.shape[0] // 10].ravel() for grey in greys]
    pixels = np.concatenate(bands) if bands else np.zeros(0, np.uint8)
    if pixels.size == 0:
        return ""
    threshold, _ = cv2.threshold(pixels.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright_background = dark_ink if dark_ink is not None else int((pixels > threshold).sum()) >= pixels.size // 2
    # Ink is near its darkest (lightest) value: a blurred glyph's smear lies between ink and background, a block
    # stuck on is as dark as the print.
    side = pixels[pixels <= threshold] if bright_background else pixels[pixels > threshold]
    if side.size == 0:
        return ""
    extreme = float(np.percentile(side, 5 if bright_background else 95))
    near = extreme + _INK_SHARE * (threshold - extreme)
    for number, grey in enumerate(greys, start=1):
        h, w = grey.shape[:2]
        if h < _MIN_LINE_HEIGHT_PX or w < h:
            continue
        ink = ((grey <= near) if bright_background else (grey >= near)).astype(np.uint8)
        kernel = np.ones((max(3, round(_PATCH_HEIGHT * h)), max(3, round(_PATCH_WIDTH * h))), np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel))
        for i in range(1, count):
            x, _, pw, ph = (int(v) for v in stats[i, :4])
            if x > 0 and x + pw < w and ph >= _PATCH_MIN_HEIGHT * h:
                where = f"line {number}" if len(lines) > 1 else "the text"
                return f"a solid patch {pw} x {ph} px over {where}"
    return ""

"""One plate read per vehicle passage, voted over the track's best crops.

Each crop's read is a vote weighted by its confidence. Reads of the same length also vote per character position,
each character weighted by the recogniser's confidence in *that* character (`ScoredPlateRead.char_confidences`;
the read's confidence where there is none), which recovers a plate that no single frame read entirely right (a
glare-hit `B` read surely in one frame and weakly as `8` in another). The winner must still be valid by the
grammar. A whole string's confidence is its share of all the vote weight times its mean confidence; the
per-position winner's is its least agreed position's share times the frames' mean confidence — so frames that
disagree lower it, and a one-character tie between two frames is not decided by a coin. No valid winner, or too
low a confidence: `unreadable`, with every frame's guesses kept as candidates for the reviewer. Colour is voted
the same way, `uncertain` last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ocr.plate_reader import ScoredPlateRead
from rules import plate_grammar
from rules.types import OcrCandidate, PlateColour, PlateRead, ReadStatus


def _colour_vote(reads: Sequence[PlateRead]) -> tuple[PlateColour, float]:
    weights: dict[PlateColour, float] = defaultdict(float)
    for read in reads:
        if read.colour is not PlateColour.UNCERTAIN:
            weights[read.colour] += max(read.colour_confidence, 1e-3)
    if not weights:
        return PlateColour.UNCERTAIN, 0.0
    colour, weight = max(weights.items(), key=lambda kv: (kv[1], kv[0].value))
    # Each read contributes at most 1: the confidence is the confidence-weighted share of reads that agree.
    return colour, min(1.0, weight / len(reads))


def char_confidences(read: PlateRead) -> tuple[float, ...]:
    """One confidence per character of `read.text`: the recogniser's own where the reader kept them."""
    if isinstance(read, ScoredPlateRead) and len(read.char_confidences) == len(read.text):
        return read.char_confidences
    return tuple(read.confidence for _ in read.text)


def _char_vote(reads: Sequence[PlateRead]) -> tuple[str, tuple[float, ...]] | None:
    """Per-position vote, weighted by character confidence, over reads of the most common length: the text and
    each position's winning share of the weight; None when the text is not a valid plate."""
    lengths: dict[int, float] = defaultdict(float)
    for read in reads:
        lengths[len(read.text)] += read.confidence
    if not lengths:
        return None
    length = max(lengths.items(), key=lambda kv: kv[1])[0]
    same = [(r.text, char_confidences(r)) for r in reads if len(r.text) == length]
    chars, shares = [], []
    for pos in range(length):
        votes: dict[str, float] = defaultdict(float)
        for text, confs in same:
            votes[text[pos]] += max(confs[pos], 1e-3)
        char, weight = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        chars.append(char)
        shares.append(round(weight / sum(votes.values()), 4))
    text = "".join(chars)
    return (text, tuple(shares)) if plate_grammar.is_valid(text) else None


def vote(reads: Sequence[PlateRead], min_confidence: float) -> ScoredPlateRead:
    if not reads:
        raise ValueError("vote needs at least one read")
    colour, colour_conf = _colour_vote(reads)
    candidates = _merge_candidates(reads)
    valid = [r for r in reads if r.status is ReadStatus.READ]
    total = sum(max(r.confidence, 0.05) for r in reads)  # unreadable frames still count against agreement
    if not valid:
        reasons = sorted({r.reason for r in reads if r.reason})
        return ScoredPlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates,
                               "; ".join(reasons) or "unreadable on every frame")
    # Whole strings: the confidence-weighted share of all frames that read exactly this, times their confidence.
    scores: dict[str, tuple[float, tuple[float, ...]]] = {}
    weights: dict[str, list[PlateRead]] = defaultdict(list)
    for read in valid:
        weights[read.text].append(read)
    for text, same in weights.items():
        mean_conf = sum(r.confidence for r in same) / len(same)
        scores[text] = (sum(r.confidence for r in same) / total * mean_conf, char_confidences(max(same, key=_conf)))
    # Per character: the per-position winner, as sure as its least agreed position, times the share of frames
    # that read a string of that length. It beats the whole-string vote when the frames that disagree with it
    # did so on characters the recogniser itself was unsure of.
    char_vote = _char_vote(valid)
    if char_vote is not None:
        text, shares = char_vote
        group = [r for r in valid if len(r.text) == len(text)]
        mean_conf = sum(r.confidence for r in group) / len(group)
        by_chars = sum(r.confidence for r in group) / total * min(shares) * mean_conf
        if text not in scores or by_chars > scores[text][0]:
            scores[text] = (by_chars, shares)
    text, (confidence, per_char) = max(scores.items(), key=lambda kv: (kv[1][0], kv[0]))
    confidence = min(1.0, confidence)
    template = max(weights.get(text) or [r for r in valid if len(r.text) == len(text)] or valid, key=_conf)
    if confidence < min_confidence:
        return ScoredPlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates,
                               f"frames disagree or read weakly (consensus {confidence:.2f})")
    return ScoredPlateRead(ReadStatus.READ, text, plate_grammar.format_plate(text, template.layout),
                           template.layout, colour, round(confidence, 4), round(colour_conf, 4), candidates,
                           char_confidences=per_char)


def _conf(read: PlateRead) -> float:
    return read.confidence


def _merge_candidates(reads: Sequence[PlateRead], limit: int = 8) -> tuple[OcrCandidate, ...]:
    best: dict[str, OcrCandidate] = {}
    for read in reads:
        for cand in read.candidates:
            if cand.text not in best or cand.confidence > best[cand.text].confidence:
                best[cand.text] = cand
    return tuple(sorted(best.values(), key=lambda c: (-c.confidence, c.text))[:limit])

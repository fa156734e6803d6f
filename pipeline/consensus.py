"""One plate read per vehicle passage, voted over the track's best crops.

Each crop's read is a vote weighted by its confidence. Reads of the same length also vote per character position,
which recovers a plate that no single frame read entirely right (e.g. 8 in one frame, B in another). The winner
must still be valid by the grammar. The consensus confidence is the winner's share of all the vote weight times
its mean confidence, so frames that disagree lower it. No valid winner, or too low a confidence: `unreadable`,
with every frame's guesses kept as candidates for the reviewer. Colour is voted the same way, `uncertain` last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

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


def _char_vote(reads: Sequence[PlateRead]) -> str | None:
    """Per-position majority over reads of the most common length; None when it is not a valid plate."""
    lengths: dict[int, float] = defaultdict(float)
    for read in reads:
        lengths[len(read.text)] += read.confidence
    if not lengths:
        return None
    length = max(lengths.items(), key=lambda kv: kv[1])[0]
    same = [r for r in reads if len(r.text) == length]
    chars = []
    for pos in range(length):
        votes: dict[str, float] = defaultdict(float)
        for read in same:
            votes[read.text[pos]] += read.confidence
        chars.append(max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0])
    text = "".join(chars)
    return text if plate_grammar.is_valid(text) else None


def vote(reads: Sequence[PlateRead], min_confidence: float) -> PlateRead:
    if not reads:
        raise ValueError("vote needs at least one read")
    colour, colour_conf = _colour_vote(reads)
    candidates = _merge_candidates(reads)
    valid = [r for r in reads if r.status is ReadStatus.READ]
    total = sum(max(r.confidence, 0.05) for r in reads)  # unreadable frames still count against agreement
    if not valid:
        reasons = sorted({r.reason for r in reads if r.reason})
        return PlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates,
                         "; ".join(reasons) or "unreadable on every frame")
    weights: dict[str, float] = defaultdict(float)
    for read in valid:
        weights[read.text] += read.confidence
    char_winner = _char_vote(valid)
    if char_winner is not None and char_winner not in weights:
        # A synthesised string earns the weight of the reads it agrees with on all but one character.
        weights[char_winner] = sum(r.confidence for r in valid
                                   if len(r.text) == len(char_winner)
                                   and sum(a != b for a, b in zip(r.text, char_winner, strict=True)) <= 1) * 0.9
    text, weight = max(weights.items(), key=lambda kv: (kv[1], kv[0]))
    agreeing = [r for r in valid if r.text == text] or valid
    mean_conf = sum(r.confidence for r in agreeing) / len(agreeing)
    confidence = min(1.0, (weight / total) * mean_conf) if total > 0 else 0.0
    template = max(agreeing, key=lambda r: r.confidence)
    if confidence < min_confidence:
        return PlateRead(ReadStatus.UNREADABLE, "", (), None, colour, 0.0, round(colour_conf, 4), candidates,
                         f"frames disagree or read weakly (consensus {confidence:.2f})")
    return PlateRead(ReadStatus.READ, text, plate_grammar.format_plate(text, template.layout), template.layout,
                     colour, round(confidence, 4), round(colour_conf, 4), candidates)


def _merge_candidates(reads: Sequence[PlateRead], limit: int = 8) -> tuple[OcrCandidate, ...]:
    best: dict[str, OcrCandidate] = {}
    for read in reads:
        for cand in read.candidates:
            if cand.text not in best or cand.confidence > best[cand.text].confidence:
                best[cand.text] = cand
    return tuple(sorted(best.values(), key=lambda c: (-c.confidence, c.text))[:limit])

"""Metrics never take plate text as a label (plates are personal data)."""

from __future__ import annotations

import pytest

from pipeline.metrics import Counters


@pytest.mark.parametrize("label", ["plate", "plate_text", "text"])
def test_plate_like_labels_are_refused(label: str) -> None:
    counters = Counters()
    with pytest.raises(ValueError, match="plate text"):
        counters.inc("reads", 1.0, **{label: "30A12345"})
    with pytest.raises(ValueError):
        counters.set("reads", 1.0, **{label: "30A12345"})
    assert "30A12345" not in counters.to_prometheus()


def test_counts_by_label_and_sums_without_labels() -> None:
    counters = Counters()
    counters.inc("frames", camera="a")
    counters.inc("frames", 2, camera="b")
    assert counters.get("frames", camera="b") == 2
    assert counters.get("frames") == 3
    text = counters.to_prometheus()
    assert 'anpr_frames{camera="a"} 1.0' in text and 'anpr_frames{camera="b"} 2.0' in text

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
    assert 'anpr_frames_total{camera="a"} 1.0' in text and 'anpr_frames_total{camera="b"} 2.0' in text
    assert "# TYPE anpr_frames_total counter" in text


def test_gauges_histograms_and_label_subsets() -> None:
    counters = Counters()
    counters.set("outbox_pending", 7)
    counters.inc("dropped_frames", 2, camera="a", stage="detect", reason="queue_full")
    counters.inc("dropped_frames", 1, camera="a", stage="track", reason="short")
    counters.inc("dropped_frames", 5, camera="b", stage="detect", reason="queue_full")
    for seconds in (0.003, 0.2, 20.0):
        counters.observe_latency("read", seconds)
    assert counters.get_sum("dropped_frames", camera="a") == 3
    text = counters.to_prometheus()
    assert "# TYPE anpr_outbox_pending gauge" in text and "anpr_outbox_pending 7.0" in text
    assert 'anpr_stage_latency_seconds_bucket{le="0.005",stage="read"} 1.0' in text
    assert 'anpr_stage_latency_seconds_bucket{le="0.25",stage="read"} 2.0' in text
    assert 'anpr_stage_latency_seconds_bucket{le="+Inf",stage="read"} 3.0' in text
    assert 'anpr_stage_latency_seconds_count{stage="read"} 3.0' in text

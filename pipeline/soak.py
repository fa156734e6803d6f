"""Soak: replay a sample clip in a loop through the whole box (real models, durable outbox, embedded broker,
camera health) for N minutes, sampling RSS, threads and queue depths; memory must stay flat.

    python -m pipeline.soak --minutes 30 [--config configs/demo/demo.yaml] [--clip sample_videos/demo_gateway.mp4]
    make soak MINUTES=30

Each loop shifts event time by the clip's length plus a gap, so every loop is new traffic (new tracks, new ids)
and the tracker must evict what it finished. One JSON line per sample on stdout, then a summary line with RSS at
start/end, the RSS slope (least squares over the samples after warm-up, MiB per hour), thread counts, frames and
messages delivered. Exit 1 when the slope exceeds --max-slope-mib-per-h (a leak), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline import offline  # noqa: F401  (first: the offline variables must be set before any model lib)
from pipeline.app import DEFAULT_START_TIME, build_pipeline, load_config
from pipeline.metrics import Counters
from pipeline.runtime import Pipeline
from pipeline.sources import Frame, SourceStats, VideoFileSource

LOOP_GAP_S = 5.0  # event-time gap between loops: longer than tracking.max_age_s, so tracks end between loops


class LoopingVideoSource:
    """A video file replayed until `until_monotonic`; seq and event time keep increasing across loops."""

    live = False

    def __init__(self, path: Path, camera_id: str, start_time: datetime, until_monotonic: float) -> None:
        self.path, self.camera_id, self.start_time, self.until = path, camera_id, start_time, until_monotonic
        self.stats = SourceStats(camera_id, live=False, declared_fps=0.0)
        self.decode_errors = 0
        self.stopped_early_reason = ""
        self.loops = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame]:
        seq, offset = 0, timedelta(0)
        while time.monotonic() < self.until and not self._stop.is_set():
            clip = VideoFileSource(self.path, self.camera_id, self.start_time + offset)
            self.stats.declared_fps = clip.fps
            last = self.start_time + offset
            for frame in clip.frames():
                self.stats.frame_delivered()
                last = frame.event_time
                yield Frame(self.camera_id, seq, frame.event_time, frame.image, frame.source_name)
                seq += 1
                if self._stop.is_set():
                    break
            self.decode_errors += clip.decode_errors
            self.loops += 1
            offset = (last - self.start_time) + timedelta(seconds=LOOP_GAP_S)
        self.stats.state = "ended"


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mib: float
    threads: int
    frames: int
    passages: int
    loops: int
    queues: dict[str, int]
    active_tracks: int
    outbox_pending: int

    def as_dict(self) -> dict[str, Any]:
        return {"t_s": round(self.t_s, 1), "rss_mib": round(self.rss_mib, 1), "threads": self.threads,
                "frames": self.frames, "passages": self.passages, "loops": self.loops, "queues": self.queues,
                "active_tracks": self.active_tracks, "outbox_pending": self.outbox_pending}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def os_threads() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return threading.active_count()


MIN_STEADY_SAMPLES = 10  # fewer samples after warm-up than this: no leak verdict


def slope_per_hour(samples: list[Sample]) -> float:
    """Least-squares slope of RSS (MiB per hour)."""
    if len(samples) < 2:
        return 0.0
    xs = [s.t_s for s in samples]
    ys = [s.rss_mib for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600


def _sample(t0: float, pipeline: Pipeline, counters: Counters, source: LoopingVideoSource,
            pending: Any) -> Sample:
    queues = {"frames": pipeline.frames_q.qsize(), "detected": pipeline.detected_q.qsize(),
              "tracks": pipeline.tracks_q.qsize()}
    return Sample(time.monotonic() - t0, rss_mib(), os_threads(), int(counters.get("frames")),
                  int(counters.get("passages")), source.loops, queues,
                  sum(len(t.active) for t in pipeline.trackers.values()), int(pending()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--config", type=Path, default=Path("configs/demo/demo.yaml"))
    parser.add_argument("--clip", type=Path, default=Path("sample_videos/demo_gateway.mp4"))
    parser.add_argument("--interval-s", type=float, default=30.0)
    parser.add_argument("--warmup-fraction", type=float, default=0.2, help="samples ignored for the slope")
    parser.add_argument("--max-slope-mib-per-h", type=float, default=50.0)
    args = parser.parse_args(argv)

    from pipeline.running import open_kafka_sink, supervise
    from sinks.embedded_broker import EmbeddedBroker

    loaded = load_config(args.config)
    counters = Counters()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="lez-soak-") as tmp:
        kafka = open_kafka_sink(broker.bootstrap, loaded, Path(tmp) / "outbox.sqlite")
        camera = loaded.app.cameras[0]
        start = camera.start_time or DEFAULT_START_TIME
        # the clock starts after model loading, so the soak runs N minutes of processing
        pipeline = build_pipeline(loaded, kafka, counters=counters, evidence_dir=Path(tmp) / "evidence",
                                  sources=[LoopingVideoSource(args.clip, camera.id, start, float("inf"))])
        source = pipeline.sources[0]
        assert isinstance(source, LoopingVideoSource)
        t0 = time.monotonic()
        source.until = t0 + args.minutes * 60
        samples: list[Sample] = []
        done = threading.Event()

        def sampler() -> None:
            while True:
                sample = _sample(t0, pipeline, counters, source, kafka.outbox.pending)
                samples.append(sample)
                print(json.dumps(sample.as_dict()), flush=True)
                if done.wait(args.interval_s):
                    return

        watcher = threading.Thread(target=sampler, name="lez-soak-sampler", daemon=True)
        watcher.start()
        try:
            summary, delivered, stopped_by = supervise(loaded, pipeline, kafka, counters, kafka)
        finally:
            done.set()
            watcher.join(timeout=5.0)
            final = _sample(t0, pipeline, counters, source, kafka.outbox.pending)
            kafka.close()
    steady = samples[int(len(samples) * args.warmup_fraction):] or samples
    slope = slope_per_hour(steady)
    report = {
        "minutes": args.minutes, "status": summary.status.value, "stopped_by": stopped_by,
        "frames": final.frames, "passages": final.passages, "loops": final.loops,
        "violations": int(counters.get("violations")), "delivered_all": delivered,
        "dropped_frames": int(counters.get("dropped_frames")),
        "rss_start_mib": round(samples[0].rss_mib, 1) if samples else None,
        "rss_after_warmup_mib": round(steady[0].rss_mib, 1) if steady else None,
        "rss_end_mib": round(final.rss_mib, 1), "rss_max_mib": round(max(s.rss_mib for s in samples), 1),
        "rss_slope_mib_per_h": round(slope, 2), "threads_min": min(s.threads for s in samples),
        "threads_max": max(s.threads for s in samples), "threads_end": final.threads,
        "max_queue_depths": {k: max(s.queues[k] for s in samples) for k in samples[0].queues},
        "max_active_tracks": max(s.active_tracks for s in samples),
        "max_outbox_pending": max(s.outbox_pending for s in samples), "samples": len(samples),
    }
    print(json.dumps({"summary": report}), flush=True)
    if len(steady) < MIN_STEADY_SAMPLES:
        # Model warm-up alone grows RSS by hundreds of MiB in the first minute: a slope over a few samples is
        # that, not a leak. Report the numbers, give no verdict.
        print(f"soak: only {len(steady)} sample(s) after warm-up: too short to judge a leak (run MINUTES=10 or more)",
              file=sys.stderr)
        return 0
    if slope > args.max_slope_mib_per_h:
        print(f"soak: RSS grows {slope:.1f} MiB/h (> {args.max_slope_mib_per_h:g}): a leak", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

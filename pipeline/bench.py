"""`lez-anpr bench` (`make bench`): the full pipeline — decode, both detectors, tracking, OCR, consensus, rules,
evidence, durable outbox and Kafka (an embedded Tansu broker) — on reference clips, measured.

Two passes per clip:
- `capacity`: the file as fast as the pipeline takes it, lossless. Real-time factor = video s ÷ wall s.
- `live`: the file paced at its own frame rate like a camera, dropping the oldest frames when behind (counted).
  Capture → publish latency is measured here (a passage's last frame's due time → its plate-read message
  accepted by the outbox), and whether the box keeps up with the camera without dropping.
Both report the read rate against the clip's ground truth, frames dropped and skipped, plates missed, CPU
seconds per video second (comparable across machine loads, unlike wall time), per-thread CPU and peak RSS.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.app import LoadedConfig, RunHooks, run_pipeline
from pipeline.bench_measure import (
    ThreadCpuSampler,
    TimedSource,
    TimingSink,
    cpu_seconds,
    latencies_s,
    peak_rss_mib,
    percentile,
    score_reads,
)
from pipeline.config import AppConfig
from pipeline.metrics import Counters
from pipeline.runtime import FrameSource

STAGES = ("detect", "track", "read")
INTEL_CLIP = "videos/intel_car-detection.mp4"


@dataclass(frozen=True)
class BenchClip:
    name: str
    video: Path
    truth: Path | None


def generated_clip(clips_dir: Path, name: str = "bench_1080p25") -> BenchClip:
    """Render the generator's benchmark clip once (deterministic) and reuse it while it matches its spec."""
    from sample_videos.clips import BENCH_CLIPS
    from sample_videos.generate import write_clip

    spec = next(c for c in BENCH_CLIPS if c.name == name)
    video, truth = clips_dir / f"{name}.mp4", clips_dir / f"{name}.truth.json"
    if not (video.is_file() and truth.is_file() and _truth_matches(spec, truth)):
        clips_dir.mkdir(parents=True, exist_ok=True)
        print(f"rendering {name} ({spec.n_frames} frames, {spec.camera.width_px}x{spec.camera.height_px}) "
              f"into {clips_dir} — once, several minutes on 2 cores", flush=True)
        write_clip(spec, clips_dir)
    return BenchClip(name, video, truth)


def _truth_matches(spec: Any, truth_path: Path) -> bool:
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    clip = truth.get("clip", {})
    wanted = [(v.key, v.plate.compact, v.readable, v.start_frame) for v in spec.vehicles]
    got = [(v["id"], v["plate_compact"], v["readable"], v["first_frame"] is not None and v["first_frame"] >= 0)
           for v in truth.get("vehicles", [])]
    return bool(clip.get("seed") == spec.seed and clip.get("frame_count") == spec.n_frames
                and clip.get("width") == spec.camera.width_px and clip.get("fps") == spec.fps
                and [w[:3] for w in wanted] == [g[:3] for g in got])


def reference_clips(data_dir: Path, clips_dir: Path, names: list[str] | None) -> list[BenchClip]:
    """The real intel clip first (when the data folder is here), the 1080p generator clip last (the target)."""
    clips = []
    intel = data_dir / INTEL_CLIP
    if intel.is_file() and (not names or "intel_car-detection" in names):
        clips.append(BenchClip("intel_car-detection", intel, None))
    if not names or "bench_1080p25" in names:
        clips.append(generated_clip(clips_dir))
    return clips


def with_overrides(loaded: LoadedConfig, overrides: list[str]) -> LoadedConfig:
    """`key.sub=value` (value in YAML) applied to the box config, validated again like the file itself."""
    data = loaded.app.model_dump(mode="json")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set needs KEY=VALUE, got {item!r}")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return replace(loaded, app=AppConfig.model_validate(data))


def _stage_report(counters: Counters, wall_s: float, decode_s: float) -> dict[str, Any]:
    busy = {stage: counters.get("stage_seconds", stage=stage) for stage in STAGES}
    busy["decode"] = decode_s
    total = sum(busy.values()) or 1.0
    return {stage: {"busy_s": round(s, 2), "share": round(s / total, 3), "utilisation": round(s / wall_s, 3)}
            for stage, s in busy.items()}


def _delivered_count(bootstrap: str, topic: str) -> int:
    from sinks.consume import consume

    stats = consume(bootstrap, topic, from_beginning=True, max_idle_s=3.0, out=io.StringIO(), err=io.StringIO())
    return stats.valid


def with_streams(loaded: LoadedConfig, video: Path, streams: int) -> LoadedConfig:
    """The first camera `streams` times over, every one reading `video` (a GPU box's cameras, for the bench)."""
    first = loaded.app.cameras[0]
    cameras = tuple(first.model_copy(update={"id": first.id if i == 0 else f"{first.id}-s{i}",
                                             "source": str(video.resolve())}) for i in range(streams))
    return replace(loaded, app=loaded.app.model_copy(update={"cameras": cameras}))


def run_once(loaded: LoadedConfig, clip: BenchClip, mode: str, streams: int = 1) -> dict[str, Any]:
    """One pass of the whole pipeline over one clip (on `streams` cameras at once), with Kafka, measured."""
    from pipeline.running import open_kafka_sink
    from sinks.embedded_broker import EmbeddedBroker

    loaded = with_streams(loaded, clip.video, streams)
    app = loaded.app
    timed: list[TimedSource] = []

    def wrap(source: FrameSource) -> FrameSource:
        timed.append(TimedSource(source, paced=mode == "live"))
        return timed[-1]

    load_before = os.getloadavg()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="lez-bench-") as tmp:
        sink = TimingSink(open_kafka_sink(broker.bootstrap, loaded, Path(tmp) / "outbox.sqlite"))
        sampler = ThreadCpuSampler().start()
        try:
            summary, counters = run_pipeline(loaded, sink, evidence_dir=Path(tmp) / "evidence",
                                             hooks=RunHooks(wrap_source=wrap))
            end_wall, end_cpu = time.perf_counter(), cpu_seconds()
            delivered = sink.flush(30.0)
        finally:
            thread_cpu = sampler.stop()
            sink.close()
        published = [m for _, topic, m in sink.records if topic == app.kafka.plate_reads_topic]
        in_kafka = _delivered_count(broker.bootstrap, app.kafka.plate_reads_topic)
    started = [s for s in timed if s.first_wall is not None]
    first_wall = min((s.first_wall for s in started if s.first_wall is not None), default=end_wall)
    first_cpu = min((s.first_cpu_s for s in started), default=end_cpu)
    wall_s, video_s = end_wall - first_wall, sum(s.video_s for s in timed)
    frames = sum(s.frames_yielded for s in timed)
    cpu_s = end_cpu - first_cpu
    lat = [x for s in timed for x in latencies_s(
        [r for r in sink.records if r[2].get("camera_id") == s.camera_id], app.kafka.plate_reads_topic,
        s.capture_wall)]
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    window_s = app.tracking.max_age_s
    result: dict[str, Any] = {
        "clip": clip.name, "mode": mode, "streams": streams, "status": summary.status.value,
        "error": summary.error or None, "video_s": round(video_s, 3), "wall_s": round(wall_s, 3),
        "real_time_factor": round(video_s / streams / wall_s, 3) if wall_s > 0 else None,
        "frames": frames, "frames_per_s": round(frames / wall_s, 2) if wall_s else None,
        "frames_detected": _detected_frames(counters, frames),
        "detector_calls": int(counters.get("stage_calls", stage="detect")),
        "frames_skipped_by_stride": int(counters.get("frames_skipped_by_stride")),
        "frames_dropped": int(counters.get("dropped_frames")),
        "decode_errors": int(counters.get("decode_errors")),
        "cpu_s": round(cpu_s, 2), "cpu_s_per_video_s": round(cpu_s / video_s, 3) if video_s else None,
        "thread_cpu_s": thread_cpu,
        # Only a lossless pass did all the work; a live pass that dropped frames did less, so no projection there.
        "projected_rtf_idle": _projected_rtf(cpu_s, video_s / streams, thread_cpu) if mode == "capacity" else None,
        "stages": _stage_report(counters, wall_s, sum(s.decode_s for s in timed)),
        "latency_s": {"p50": _r(p50), "p95": _r(p95), "max": _r(max(lat) if lat else None), "n": len(lat),
                      "consensus_window_s": window_s,
                      "p95_beyond_window": _r(p95 - window_s if p95 is not None else None)},
        "passages": len(published), "ocr_reads": int(counters.get("ocr_reads")),
        "delivered_to_kafka": in_kafka, "flush_confirmed": delivered,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "cpu_count": os.cpu_count(),
    }
    if clip.truth is not None:
        truth = json.loads(clip.truth.read_text(encoding="utf-8"))
        scores = [score_reads(truth, [m for m in published if m["camera_id"] == s.camera_id]) for s in timed]
        total = {k: sum(getattr(sc, k) for sc in scores) for k in asdict(scores[0])}
        result["reads"] = {**total, "read_rate": round(total["read"] / total["eligible"], 4) if total["eligible"]
                           else 0.0}
    return result


def _projected_rtf(cpu_s: float, video_s: float, thread_cpu: dict[str, float]) -> float | None:
    """What the CPU time says the real-time factor would be on this many idle cores: the whole process must fit
    the cores, and no single pipeline thread may need more than one core (the machine's load does not change
    CPU seconds much; it changes wall time a lot). A projection, labelled as such — not a measurement."""
    cores = os.cpu_count() or 1
    on_path = [v for k, v in thread_cpu.items() if k.startswith("lez-")]
    if cpu_s <= 0 or video_s <= 0 or not on_path:
        return None
    return round(min(cores * video_s / cpu_s, video_s / max(on_path)), 3)


def _detected_frames(counters: Counters, frames: int) -> int:
    return frames - int(counters.get("frames_skipped_by_stride")) - int(counters.get("dropped_frames"))


def _r(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def print_result(r: dict[str, Any]) -> None:
    lat, reads = r["latency_s"], r.get("reads")
    stages = ", ".join(f"{k} {v['share']:.0%}" for k, v in r["stages"].items())
    threads = ", ".join(f"{k.removeprefix('lez-')} {v:.1f}" for k, v in r["thread_cpu_s"].items() if v >= 0.05)
    load = r["load_average"]["before"][0], r["load_average"]["after"][0]
    print(f"--- {r['clip']} x{r['streams']} [{r['mode']}] status={r['status']} "
          f"(load average {load[0]:.2f} → {load[1]:.2f} on {r['cpu_count']} cores)")
    print(f"  real-time factor {r['real_time_factor']}  ({r['video_s']} s of video in {r['wall_s']} s wall), "
          f"{r['frames_per_s']} frames/s")
    print(f"  CPU {r['cpu_s']} s = {r['cpu_s_per_video_s']} CPU-s per video-s  (per thread: {threads}); "
          f"projected real-time factor on {r['cpu_count']} idle cores {r['projected_rtf_idle']}")
    print(f"  frames {r['frames']}: detected {r['frames_detected']}, skipped by stride "
          f"{r['frames_skipped_by_stride']}, dropped {r['frames_dropped']}, decode errors {r['decode_errors']}")
    print(f"  stage time shares: {stages}")
    print(f"  capture→publish latency p50 {lat['p50']} s, p95 {lat['p95']} s (consensus window "
          f"{lat['consensus_window_s']} s; p95 beyond it {lat['p95_beyond_window']} s; n={lat['n']})")
    print(f"  passages {r['passages']}, OCR calls {r['ocr_reads']}, delivered to Kafka {r['delivered_to_kafka']}, "
          f"peak RSS {r['peak_rss_mib']} MiB")
    if reads:
        print(f"  read rate {reads['read_rate']:.4f} ({reads['read']}/{reads['eligible']} readable plates), missed "
              f"{reads['missed']}, wrong {reads['wrong_reads']}, duplicate {reads['duplicate_reads']}, unreadable "
              f"passages {reads['unreadable_passages']} (clip has {reads['unreadable_plates']} unreadable plates)")
    else:
        print("  read rate n/a (no plate ground truth for this clip)")


def machine_line(capacity: dict[str, Any] | None, live: dict[str, Any] | None) -> str:
    first = capacity or live
    assert first is not None
    rtf = (capacity or first)["real_time_factor"]
    reads = (capacity or first).get("reads")
    p95 = (live or first)["latency_s"]["p95"]
    rate = f"{reads['read_rate']:.4f}" if reads else "n/a"
    return (f"real_time_factor={rtf:.2f} read_rate={rate} "
            f"p95_latency_s={p95:.2f} clip={first['clip']}" if p95 is not None else
            f"real_time_factor={rtf:.2f} read_rate={rate} p95_latency_s=n/a clip={first['clip']}")


def run_bench(config: Path, data_dir: Path, out_dir: Path, modes: list[str], overrides: list[str],
              names: list[str] | None, streams: int = 1, clips_dir: Path = Path("out/bench/clips")) -> int:
    """Every reference clip, each mode; prints a block per run, writes `out_dir/bench.json`, and ends with one
    machine-readable line per clip (the 1080p generator clip last)."""
    from pipeline.app import load_config

    loaded = with_overrides(load_config(config), overrides)
    clips = reference_clips(data_dir, clips_dir, names)
    if not clips:
        raise FileNotFoundError(f"no reference clip selected ({names})")
    results: list[dict[str, Any]] = []
    lines = []
    for clip in clips:
        by_mode: dict[str, dict[str, Any]] = {}
        for mode in modes:
            result = run_once(loaded, clip, mode, streams)
            result["overrides"] = overrides
            print_result(result)
            results.append(result)
            by_mode[mode] = result
        lines.append(machine_line(by_mode.get("capacity"), by_mode.get("live")))
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"config": str(config), "overrides": overrides, "detectors": loaded.app.detectors.model_dump(mode="json"),
              "runs": results}
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out_dir / 'bench.json'}")
    for line in lines:
        print(line, flush=True)
    return 1 if any(r["status"] != "stopped" for r in results) else 0

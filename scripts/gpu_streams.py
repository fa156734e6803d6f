"""How many 1080p 25 fps camera streams does one GPU sustain? Run on the GPU box by `scripts/gpu_check.sh`.

Two measurements, the second only when the whole stack is importable on the box:

1. **Detector capacity** (needs torch with CUDA + ultralytics; onnxruntime-gpu optional): the plate detector
   (PyTorch fp16, batched) and the COCO vehicle detector (ONNX Runtime CUDA/TensorRT when the build has them) on
   real 1080p frames letterboxed as the pipeline does, batch sizes 1..64. Streams = sustained frames/s ÷ the
   detection rate one stream needs (`--detect-fps`, 8 as on the CPU box), printed per batch size.
2. **Full pipeline** (`lez-anpr bench --streams N`, every stage on, Kafka included): N = 1, 2, 4, 8, … paced
   like live cameras; the largest N with no dropped frame and a read rate within 1 point of N = 1 is the answer.

Everything is written to $OUT (or --out) as JSON; the last line is machine-readable:
`streams_detector_bound=N streams_full_pipeline=M gpu=NAME`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import offline  # noqa: E402  (the offline variables, before ultralytics/onnxruntime are imported)

offline.apply()


def _env() -> dict[str, Any]:
    facts: dict[str, Any] = {"python": sys.version.split()[0]}
    for name in ("torch", "ultralytics", "onnxruntime", "cv2", "numpy", "rapidocr_onnxruntime", "kafka"):
        try:
            module = __import__(name)
            facts[name] = getattr(module, "__version__", "?")
        except ImportError:
            facts[name] = None
    if facts["torch"]:
        import torch

        facts["cuda"] = torch.cuda.is_available()
        facts["gpu"] = torch.cuda.get_device_name(0) if facts["cuda"] else None
    if facts["onnxruntime"]:
        import onnxruntime as ort

        facts["ort_providers"] = ort.get_available_providers()
    return facts


def _frames(video: Path | None, n: int) -> list[Any]:
    import cv2
    import numpy as np

    frames: list[Any] = []
    if video is not None and video.is_file():
        cap = cv2.VideoCapture(str(video))
        while len(frames) < n:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.resize(frame, (1920, 1080)) if frame.shape[:2] != (1080, 1920) else frame)
        cap.release()
    rng = np.random.default_rng(0)
    while len(frames) < n:  # no clip on the box: noise frames cost the network exactly the same
        frames.append(rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8))
    return frames


def _torch_plate_fps(weights: Path, frames: list[Any], batch: int, seconds: float) -> float:
    """Plate detector as PyTorch fp16 on CUDA, letterboxed 640x384 batches uploaded as uint8 (what a GPU box does)."""
    import numpy as np
    import torch
    from ultralytics.models import YOLO

    from detectors.yolo_postprocess import letterbox

    model: Any = YOLO(str(weights), task="detect").model
    net = model.cuda().half().eval().fuse()
    padded = [letterbox(f, 640, stride=32)[0] for f in frames[:batch]]
    host = torch.from_numpy(np.stack(padded)).pin_memory()
    done, start = 0, time.perf_counter()
    with torch.no_grad():
        while time.perf_counter() - start < seconds or done == 0:
            x = host.cuda(non_blocking=True).permute(0, 3, 1, 2).flip(1).half().div_(255)
            net(x)
            torch.cuda.synchronize()
            done += batch
    return done / (time.perf_counter() - start)


def _ort_vehicle_fps(weights: Path, frames: list[Any], batch: int, seconds: float, tensorrt: bool) -> float | None:
    """COCO vehicle model on ONNX Runtime CUDA (fixed batch 1 export: frame by frame, like the pipeline)."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None
    from detectors.onnx_backend import OrtSettings, OrtYoloModel

    model = OrtYoloModel(OrtSettings(weights=weights, device="cuda:0", tensorrt=tensorrt, half=tensorrt, threads=4))
    model.predict(frames[:1])
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done == 0:
        model.predict(frames[:batch])
        done += batch
    return done / (time.perf_counter() - start)


def detector_capacity(models: Path, video: Path | None, detect_fps: float, seconds: float) -> dict[str, Any]:
    frames = _frames(video, 64)
    rows: list[dict[str, Any]] = []
    for batch in (1, 4, 8, 16, 32, 64):
        plate = _torch_plate_fps(models / "plate_detector_model_1.pt", frames, batch, seconds)
        vehicle = _ort_vehicle_fps(models / "yolov8n.onnx", frames, batch, seconds, tensorrt=False)
        # Both run on every detected frame; without onnxruntime-gpu the vehicle model is not measured and the same
        # network (yolov8n, same backbone and head size) is *assumed* to cost what the plate model costs.
        per_frame_s = 1 / plate + (1 / vehicle if vehicle else 1 / plate)
        rows.append({"batch": batch, "plate_fps": round(plate, 1),
                     "vehicle_fps": round(vehicle, 1) if vehicle else None,
                     "vehicle_assumed_equal_to_plate": vehicle is None,
                     "both_fps": round(1 / per_frame_s, 1), "streams": int((1 / per_frame_s) // detect_fps)})
        print(json.dumps(rows[-1]), flush=True)
    return {"detect_fps_per_stream": detect_fps, "rows": rows, "streams": max(r["streams"] for r in rows)}


def full_pipeline(max_streams: int, out: Path) -> dict[str, Any]:
    """`lez-anpr bench --streams N` on the 1080p clip, doubling N until frames drop or reads fall."""
    results: dict[str, Any] = {}
    best, base_rate = 0, None
    n = 1
    while n <= max_streams:
        run_out = out / f"streams-{n}"
        cmd = [sys.executable, "-m", "pipeline.cli", "bench", "--config", "configs/bench/gpu.yaml", "--clip",
               "bench_1080p25", "--mode", "live", "--streams", str(n), "--out", str(run_out)]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False, timeout=900)
        (out / f"streams-{n}.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not (run_out / "bench.json").is_file():
            results[str(n)] = {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
            break
        run = json.loads((run_out / "bench.json").read_text())["runs"][0]
        rate = run["reads"]["read_rate"]
        base_rate = rate if base_rate is None else base_rate
        kept_up = run["frames_dropped"] == 0 and rate >= base_rate - 0.01
        results[str(n)] = {"dropped": run["frames_dropped"], "read_rate": rate,
                           "p95_latency_s": run["latency_s"]["p95"], "kept_up": kept_up,
                           "thread_cpu_s": run["thread_cpu_s"]}
        print(json.dumps({"streams": n, **results[str(n)]}), flush=True)
        if not kept_up:
            break
        best = n
        n *= 2
    return {"runs": results, "streams": best}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("LEZ_STATE_DIR", ".state")) / "models")
    parser.add_argument("--video", type=Path, default=REPO / "out/bench/clips/bench_1080p25.mp4")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out/gpu")))
    parser.add_argument("--detect-fps", type=float, default=8.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="per batch size")
    parser.add_argument("--max-streams", type=int, default=64)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"env": _env()}
    print(json.dumps(report["env"]), flush=True)
    if not report["env"].get("cuda"):
        print("gpu_streams: no CUDA device visible to torch; nothing to measure", file=sys.stderr)
        (args.out / "gpu_streams.json").write_text(json.dumps(report, indent=1))
        return 2
    report["detector"] = detector_capacity(args.models, args.video, args.detect_fps, args.seconds)
    full = None
    if not args.skip_pipeline and all(report["env"].get(m) for m in ("rapidocr_onnxruntime", "kafka", "onnxruntime")):
        report["pipeline"] = full_pipeline(args.max_streams, args.out)
        full = report["pipeline"]["streams"]
    (args.out / "gpu_streams.json").write_text(json.dumps(report, indent=1))
    gpu = str(report["env"]["gpu"]).replace(" ", "_")
    print(f"streams_detector_bound={report['detector']['streams']} "
          f"streams_full_pipeline={full if full is not None else 'n/a'} gpu={gpu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

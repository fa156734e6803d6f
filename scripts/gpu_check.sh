#!/usr/bin/env bash
# GPU box check: how many 1080p 25 fps streams one GPU sustains with full reading (see docs/performance.md).
# Run from the repository root on the GPU machine, e.g. through the device tool:
#   bash scripts/gpu_check.sh            # results in $OUT (or out/gpu): gpu_streams.json + streams-N logs
# Needs: torch with CUDA and ultralytics (detector capacity); onnxruntime-gpu for the vehicle model on the GPU;
# the rest of requirements.txt for the full-pipeline part (skipped, and said so, when it is not importable).
# Models: .state/models (carry it: `make models` here first), and the bench clip out/bench/clips (render it here
# first with `make bench` or `python -m sample_videos.generate --out out/bench/clips --clip bench_1080p25`).
set -euo pipefail
cd "$(dirname "$0")/.."
export LEZ_STATE_DIR="${LEZ_STATE_DIR:-$PWD/.state}" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
if [ -n "${WHEELS:-}" ] && [ -d "$WHEELS" ]; then   # carried wheels, installed without any index
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" --target "${WHEELS_TARGET:-/tmp/lez-wheels}" \
    "$WHEELS"/*.whl && export PYTHONPATH="$PYTHONPATH:${WHEELS_TARGET:-/tmp/lez-wheels}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec "$PY" scripts/gpu_streams.py --out "${OUT:-out/gpu}" "$@"

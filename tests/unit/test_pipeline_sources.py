"""Frame sources on real (tiny) files: frame count, event time from the container, clear errors on bad input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.sources import Frame, ImageFolderSource, SourceError, VideoFileSource, is_stream_url

START = datetime(2026, 7, 3, 19, 0, tzinfo=timezone(timedelta(hours=7)))
FPS = 10.0


def write_video(path: Path, frames: int = 20, size: tuple[int, int] = (320, 240)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, size)
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.rectangle(image, (10 + 10 * i, 50), (60 + 10 * i, 100), (255, 255, 255), -1)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4")


def test_video_yields_every_frame_with_footage_event_time(clip: Path) -> None:
    source = VideoFileSource(clip, "cam", START)
    frames = list(source.frames())
    assert len(frames) == 20
    assert [f.seq for f in frames] == list(range(20))
    assert all(f.image.shape == (240, 320, 3) for f in frames)
    times = [f.event_time for f in frames]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert times[0] == START  # the first frame is at the configured start (container time 0)
    assert all(b > a for a, b in itertools.pairwise(times))
    # Container timestamps at 10 fps: frame k is k × 100 ms after the start (±1 ms of rounding).
    for k, t in enumerate(times):
        assert abs((t - START).total_seconds() - k / FPS) < 0.002
    assert source.decode_errors == 0 and source.stopped_early_reason == ""


def test_video_event_time_does_not_depend_on_processing_time(clip: Path) -> None:
    first = [f.event_time for f in VideoFileSource(clip, "cam", START).frames()]
    second = [f.event_time for f in VideoFileSource(clip, "cam", START).frames()]
    assert first == second


def _one_line_error(path: Path) -> str:
    with pytest.raises(SourceError) as info:
        VideoFileSource(path, "cam", START)
    message = str(info.value)
    assert "\n" not in message and str(path.name) in message
    return message


def test_missing_video(tmp_path: Path) -> None:
    assert "not found" in _one_line_error(tmp_path / "missing.mp4")


def test_zero_byte_video(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert "empty" in _one_line_error(path)


def test_garbage_video(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    assert "corrupt" in _one_line_error(path)


def test_truncated_video_raises_or_yields_fewer_frames(clip: Path, tmp_path: Path) -> None:
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        source = VideoFileSource(cut, "cam", START)
    except SourceError as exc:
        assert "\n" not in str(exc)
        return
    frames = list(source.frames())
    assert len(frames) < 20


def test_image_folder_counts_unreadable_images(tmp_path: Path) -> None:
    folder = tmp_path / "stills"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"img{i}.png"), np.full((40, 60, 3), 50 * i, np.uint8))
    (folder / "img1b.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    source = ImageFolderSource(folder, "cam", START, fps=2.0)
    frames = list(source.frames())
    assert [f.source_name for f in frames] == ["img0.png", "img1.png", "img2.png"]
    assert source.decode_errors == 1
    assert source.stopped_early_reason == "1 of 4 image(s) could not be decoded (skipped)"  # the run is incomplete
    assert frames[0].event_time == START.astimezone(UTC)
    assert frames[-1].event_time - frames[0].event_time == timedelta(seconds=1.5)  # index 3 of 4 files at 2 fps


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        ImageFolderSource(tmp_path / "nope", "cam", START)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path / "empty", "cam", START)


def test_frame_refuses_naive_time_and_non_bgr_images() -> None:
    with pytest.raises(ValueError):
        Frame("cam", 0, datetime(2026, 1, 1), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        Frame("cam", 0, START, np.zeros((4, 4), np.uint8))


def test_stream_urls_are_recognised() -> None:
    assert is_stream_url("rtsp://user:pw@10.0.0.5/stream1")
    assert not is_stream_url("sample_videos/demo_gateway.mp4")

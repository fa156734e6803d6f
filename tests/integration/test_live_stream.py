"""A real live stream: ffmpeg (Debian package) serves MPEG-TS over HTTP on 127.0.0.1; the server hangs (SIGSTOP),
dies (SIGKILL) and comes back on the same port, and the StreamSource keeps delivering with a continuous seq.

Skipped with a reason when ffmpeg is not installed (`.ci/run` installs it: `apt-get install -y ffmpeg`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.live import StreamSettings, StreamSource
from pipeline.sources import Frame
from sinks.embedded_broker import free_port

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed (apt-get install -y ffmpeg; .ci/run "
                                                       "does it): no local stream server to test against")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (320, 240))
    for i in range(50):
        image = np.full((240, 320, 3), 40, np.uint8)
        cv2.rectangle(image, (i * 5, 50), (i * 5 + 40, 100), (255, 255, 255), -1)
        writer.write(image)
    writer.release()
    return path


def serve(clip: Path, port: int) -> subprocess.Popen[bytes]:
    """One HTTP client, the clip looped at its real rate (-re), re-encoded so every GOP carries its headers."""
    assert FFMPEG is not None
    return subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "quiet", "-re", "-stream_loop", "-1", "-i", str(clip), "-an",
         "-c:v", "mpeg2video", "-g", "10", "-q:v", "5", "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


class Collector:
    def __init__(self, frames: Iterator[Frame]) -> None:
        self.frames: list[Frame] = []
        self._it = frames
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for frame in self._it:
            self.frames.append(frame)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def test_stream_survives_a_hung_then_killed_then_restarted_server(clip: Path) -> None:
    port = free_port()
    server = serve(clip, port)
    settings = StreamSettings(open_timeout_s=3.0, frame_deadline_s=1.5, backoff_initial_s=0.2, backoff_max_s=1.0,
                              restart_budget=50, restart_window_s=300.0)
    source = StreamSource(f"http://127.0.0.1:{port}/", "cam-live", settings)
    collector = Collector(source.frames())
    restarted: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: len(collector.frames) >= 20, 30, "the first 20 frames")
        assert source.stats.declared_fps == pytest.approx(10.0, abs=0.5)

        os.kill(server.pid, signal.SIGSTOP)  # the camera hangs: TCP stays open, no more data
        wait_for(lambda: source.stats.deadline_misses >= 1, 20, "the frame deadline to catch the hung read")
        _kill(server)  # ...then dies; reconnects are refused for a while
        wait_for(lambda: source.reconnects >= 2, 20, "reconnect attempts while the server is down")
        before = len(collector.frames)

        restarted = serve(clip, port)  # the camera is back, same address
        wait_for(lambda: len(collector.frames) >= before + 20, 40, "frames from the restarted server")
        assert source.stats.snapshot().state == "streaming"
    finally:
        source.stop()
        collector.thread.join(timeout=10)
        for proc in (server, restarted):
            if proc is not None:
                _kill(proc)
    assert not collector.thread.is_alive()
    seqs = [f.seq for f in collector.frames]
    assert seqs == list(range(len(seqs)))  # continuous across reconnects: never restarted from 0
    assert source.stats.frames == len(seqs)

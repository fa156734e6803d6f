"""Graceful shutdown of a real `lez-anpr run` child process (real models, the demo clip, the real broker).

SIGTERM mid-clip: the source stops, the stages drain, the outbox is flushed, the process exits within its bound
with "incomplete" (a replay stopped before its end) and everything it produced is on the topics. A second SIGINT
while the flush waits for a dead broker exits at once (130); what was not delivered stays in the outbox.
"""

from __future__ import annotations

import io
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from pipeline.cli import EXIT_INCOMPLETE
from pipeline.shutdown import EXIT_FORCED
from sinks.consume import consume
from sinks.embedded_broker import EmbeddedBroker
from tests.integration.pipeline_runs import COUNTED, Run, box_config, wait_for

pytestmark = pytest.mark.e2e


def test_sigterm_stops_drains_flushes_and_exits_within_the_bound(tmp_path: Path) -> None:
    config = box_config(tmp_path, "runtime:\n  stop_timeout_s: 60\n  flush_timeout_s: 30\n")
    with EmbeddedBroker(port=0) as broker:
        run = Run(config, broker.bootstrap, tmp_path, "run")
        wait_for(lambda: run.metric("anpr_passages_total") >= 1, 300, "a first passage", run)
        run.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code, report = run.wait(timeout_s=120)
        elapsed = time.monotonic() - sent
        stderr = run.stderr_path.read_text()
        assert code == EXIT_INCOMPLETE, stderr[-3000:]
        assert report["stopped_by"] == "SIGTERM" and report["delivered"] is True
        assert report["frames"] < 150  # it really stopped early
        assert "stopped by SIGTERM before the end" in stderr and "Traceback" not in stderr
        assert elapsed < 90  # stop_timeout_s + flush_timeout_s bound it; in practice a few seconds
        produced = run.produced()
        for topic in COUNTED:
            back = io.StringIO()
            stats = consume(broker.bootstrap, topic, from_beginning=True, max_idle_s=3.0, as_json=True, out=back,
                            err=io.StringIO())
            assert stats.ids == produced[topic], topic
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_second_sigint_forces_exit_and_keeps_the_outbox(tmp_path: Path) -> None:
    config = box_config(tmp_path, "runtime:\n  flush_timeout_s: 300\n")
    with EmbeddedBroker(port=0) as broker:
        run = Run(config, broker.bootstrap, tmp_path, "run")
        wait_for(lambda: run.metric("anpr_frames_total") >= 3 and run.metric("anpr_outbox_delivered") >= 1, 300,
                 "frames and a first delivery", run)
        broker.kill()  # the flush can now only wait (for up to 300 s)
        wait_for(lambda: run.metric("anpr_passages_total") >= 1, 300, "a passage into the outbox", run)
        run.proc.send_signal(signal.SIGINT)
        wait_for(lambda: "SIGINT: stopping" in run.stderr_path.read_text(), 30, "the first SIGINT", run)
        time.sleep(1.0)
        run.proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code, _ = run.wait(timeout_s=30)
        assert code == EXIT_FORCED
        assert time.monotonic() - sent < 10
        assert "second SIGINT" in run.stderr_path.read_text()
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] >= 1  # kept for the next start

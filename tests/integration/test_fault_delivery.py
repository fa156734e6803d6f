"""Lose nothing: the real pipeline (real models, the demo clip) against the real embedded broker, with faults.

1. The broker is SIGKILLed by pid while the clip is being processed; the pipeline keeps going (the outbox holds
   what it produces), the broker comes back on the same port (topics created again first, it is memory-only), and
   every violation and plate read produced (the run's JSONL copy) is consumed back, de-duplicated by id.
2. The pipeline itself is SIGKILLed mid-clip while the broker is down (so rows are waiting in the outbox); a second
   run with the same outbox delivers them and processes the clip again — ids are deterministic, so the union of
   both runs' messages arrives exactly once by id.

Progress is watched through the run's own /metrics endpoint (health.port: 0 = ephemeral, bound to 127.0.0.1).
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from pipeline.health import CameraHealthV1
from sinks.consume import consume
from sinks.embedded_broker import EmbeddedBroker
from sinks.kafka_sink import ensure_topics
from sinks.schema import TOPIC_CAMERA_HEALTH, TOPIC_PLATE_READS, TOPIC_VIOLATIONS
from tests.integration.pipeline_runs import COUNTED, TOPICS, Run, box_config, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture()
def box(tmp_path: Path) -> Path:
    return box_config(tmp_path)



def consumed(bootstrap: str) -> dict[str, tuple[set[str], int]]:
    """Per topic: the ids consumed back and how many records carried them (duplicates are allowed, by id)."""
    result = {}
    for topic in COUNTED:
        stats = consume(bootstrap, topic, from_beginning=True, max_idle_s=4.0, as_json=True, out=io.StringIO(),
                        err=io.StringIO())
        assert stats.invalid == 0
        result[topic] = (set(stats.ids), stats.received)
    return result


def test_broker_killed_mid_clip_and_restarted_loses_nothing(box: Path, tmp_path: Path) -> None:
    with EmbeddedBroker(port=0) as broker:
        run = Run(box, broker.bootstrap, tmp_path, "run")
        # Kill once frames flow and the producer has delivered (camera health), before the first passage: what
        # the old broker acknowledged dies with its memory storage, so no counted message may reach it.
        wait_for(lambda: run.metric("anpr_frames_total") >= 3
                 and run.metric("anpr_outbox_delivered") >= 1, 300, "frames and a first delivery", run)
        assert run.metric("anpr_passages_total") == 0
        broker.kill()
        wait_for(lambda: run.metric("anpr_passages_total") >= 2, 300, "passages while the broker is down", run)
        assert run.metric("anpr_outbox_pending") >= 1  # held in the outbox, the frame path did not wait
        # The publisher counts a failure when its next attempt after the kill fails; with fast detectors the
        # passages can come before that attempt, so wait for it (bounded) rather than expect it already.
        wait_for(lambda: run.metric("anpr_delivery_failures") >= 1, 120, "a counted delivery failure", run)
        broker.start()  # same port, empty: create the topics before the publisher's next attempt
        ensure_topics(broker.bootstrap, TOPICS)
        code, report = run.wait()
        assert code == 0, run.stderr_path.read_text()[-3000:]
        assert report["delivered"] is True and report["violations"] == 2 and report["passages"] == 6
        produced = run.produced()
        back = consumed(broker.bootstrap)
        health = io.StringIO()
        consume(broker.bootstrap, TOPIC_CAMERA_HEALTH, from_beginning=True, max_idle_s=3.0, as_json=True,
                out=health, err=io.StringIO())
    reports = [CameraHealthV1.model_validate_json(line) for line in health.getvalue().splitlines()]
    assert reports and all(r.camera_id == "demo-cam-1" for r in reports)  # published after the restart too
    assert reports[-1].frames_total == 150 and reports[-1].state == "ended"
    assert len(produced[TOPIC_VIOLATIONS]) == 2 and len(produced[TOPIC_PLATE_READS]) == 6
    for topic in COUNTED:
        ids, received = back[topic]
        assert ids == produced[topic], topic  # every one arrived, none invented
        assert received >= len(ids)


def test_pipeline_sigkilled_mid_clip_resumes_from_its_outbox(box: Path, tmp_path: Path) -> None:
    with EmbeddedBroker(port=0) as broker:
        first = Run(box, broker.bootstrap, tmp_path, "first")
        wait_for(lambda: first.metric("anpr_frames_total") >= 3
                 and first.metric("anpr_outbox_delivered") >= 1, 300, "frames and a first delivery", first)
        broker.kill()  # rows now wait in the outbox
        wait_for(lambda: first.metric("anpr_passages_total") >= 2, 300, "passages into the outbox", first)
        first.kill()  # SIGKILL mid-clip: no flush, no goodbye
        produced_first = first.produced()
        with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
            waiting = dict(db.execute("SELECT topic, COUNT(*) FROM outbox GROUP BY topic").fetchall())
        assert waiting.get(TOPIC_PLATE_READS, 0) >= 2, waiting

        broker.start()
        ensure_topics(broker.bootstrap, TOPICS)
        second = Run(box, broker.bootstrap, tmp_path, "second")
        code, report = second.wait()
        assert code == 0, second.stderr_path.read_text()[-3000:]
        assert report["delivered"] is True
        produced_second = second.produced()
        back = consumed(broker.bootstrap)
        with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    for topic in COUNTED:
        assert produced_first[topic] <= produced_second[topic], topic  # deterministic ids: the same passages
        assert back[topic][0] == produced_first[topic] | produced_second[topic], topic
    assert len(back[TOPIC_VIOLATIONS][0]) == 2 and len(back[TOPIC_PLATE_READS][0]) == 6

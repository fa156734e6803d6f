"""The golden summary of a run's messages: what must be identical every time the demo clip is processed.

`python -m tests.e2e.golden OUT_DIR` prints it for a run's JSONL folder (`lez-anpr run --out OUT_DIR`); the committed
`sample_videos/demo_gateway.expected.json` was made that way and checked by hand against the clip's truth file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PASSAGE_FIELDS = ("message_id", "track_id", "direction", "captured_at_utc", "first_seen", "last_seen")


def _passage(message: dict[str, Any]) -> dict[str, Any]:
    plate, decision = message["plate"], message["decision"]
    return {**{k: message[k] for k in PASSAGE_FIELDS},
            "plate_status": plate["status"], "plate_text": plate["text"], "plate_colour": plate["colour"],
            "layout": plate["layout"], "outcome": decision["outcome"], "policy_id": decision["policy_id"]}


def summarise(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    def load(topic: str) -> list[dict[str, Any]]:
        path = out_dir / f"{topic}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    reads = sorted(load("lez.plate-reads.v1"), key=lambda m: m["track_id"])
    violations = sorted(load("lez.violations.v1"), key=lambda m: m["track_id"])
    return {
        "passages": [_passage(m) for m in reads],
        "violations": [{"violation_id": m["violation_id"], "track_id": m["track_id"], "policy_id": m["policy_id"],
                        "action": m["action"], "liability_window": m["liability_window"],
                        "plate_text": m["plate"]["text"]} for m in violations],
    }


if __name__ == "__main__":
    print(json.dumps(summarise(Path(sys.argv[1])), indent=2, ensure_ascii=False))

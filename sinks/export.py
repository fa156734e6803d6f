"""Export consumed messages for the data centre: JSONL (the full message) or CSV (one flat row per message).

The format follows the file suffix (`.csv`, else JSONL). The file is appended to, one flushed line per message, and
the ids already in it are read back when it is opened — so a consumer restarted after a crash (at-least-once: it
gets some messages again) never writes a violation twice: de-duplication by `violation_id` holds across runs.
The export contains plate text (personal data): store it like the evidence, never in shared logs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from sinks.schema import dedup_id

CSV_COLUMNS: tuple[str, ...] = (
    "id", "violation_id", "message_id", "captured_at_utc", "captured_at_local", "camera_id", "gateway_id",
    "gps_lat", "gps_lon", "direction", "vehicle_class", "plate_status", "plate_text", "plate_colour",
    "plate_confidence", "outcome", "zone_id", "zone_phase", "policy_id", "action", "liability", "liability_window",
    "legal_reference", "evidence", "config_sha256", "software_version",
)


def csv_row(message: BaseModel) -> dict[str, str]:
    data: dict[str, Any] = message.model_dump(mode="json")
    plate, decision = data["plate"], data["decision"]
    row = {
        "id": dedup_id(message),
        "violation_id": data.get("violation_id", ""),
        "message_id": data["message_id"],
        "captured_at_utc": data["captured_at_utc"],
        "captured_at_local": data["captured_at_local"],
        "camera_id": data["camera_id"],
        "gateway_id": data["gateway_id"],
        "gps_lat": data["gps"]["lat"],
        "gps_lon": data["gps"]["lon"],
        "direction": data["direction"],
        "vehicle_class": data["vehicle_class"],
        "plate_status": plate["status"],
        "plate_text": plate["text"] or "",
        "plate_colour": plate["colour"],
        "plate_confidence": plate["confidence"],
        "outcome": decision["outcome"],
        "zone_id": decision["zone_id"] or "",
        "zone_phase": decision.get("zone_phase") or "",
        "policy_id": data.get("policy_id") or decision["policy_id"] or "",
        "action": data.get("action") or decision["action"] or "",
        "liability": data.get("liability", ""),
        "liability_window": data.get("liability_window", ""),
        "legal_reference": data.get("legal_reference") or decision["legal_reference"],
        "evidence": ";".join(f"{e['kind']}:{e['sha256']}" for e in data["evidence"]),
        "config_sha256": data["config_sha256"],
        "software_version": data["software_version"],
    }
    return {k: str(v) for k, v in row.items()}


class Exporter:
    """Append-only export file; `seen_ids` are the ids already exported (by this run or an earlier one)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.is_csv = self.path.suffix.lower() == ".csv"
        self.seen_ids: set[str] = self._existing_ids()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new_csv = self.is_csv and (not self.path.exists() or self.path.stat().st_size == 0)
        self._fh: IO[str] = self.path.open("a", encoding="utf-8", newline="")
        if not new_csv and self.path.stat().st_size and not self._ends_with_newline():
            self._fh.write("\n")  # a line cut by a crash stays alone (and is skipped when read back)
        self._csv = csv.DictWriter(self._fh, fieldnames=CSV_COLUMNS) if self.is_csv else None
        if self._csv is not None and new_csv:
            self._csv.writeheader()
        self.written = 0

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"

    def _existing_ids(self) -> set[str]:
        if not self.path.is_file():
            return set()
        with self.path.open(encoding="utf-8", newline="") as fh:
            if self.is_csv:
                return {row["id"] for row in csv.DictReader(fh) if row.get("id")}
            ids = set()
            for line in fh:
                try:
                    data = json.loads(line)
                except ValueError:  # a line cut by a crash: the message comes again and is rewritten
                    continue
                ident = data.get("violation_id") or data.get("message_id")
                if ident:
                    ids.add(str(ident))
            return ids

    def write(self, message: BaseModel) -> bool:
        """Append the message unless its id is already exported; True when written."""
        ident = dedup_id(message)
        if ident in self.seen_ids:
            return False
        if self._csv is not None:
            self._csv.writerow(csv_row(message))
        else:
            self._fh.write(message.model_dump_json() + "\n")
        self._fh.flush()
        self.seen_ids.add(ident)
        self.written += 1
        return True

    def close(self) -> None:
        self._fh.close()

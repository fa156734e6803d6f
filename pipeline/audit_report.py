"""The audit report of a replay: one row per passage, as JSON Lines, CSV and a self-contained HTML page.

Rows are built from the exact messages the replay published (messages/*.jsonl), so the report cannot say anything
the topics did not. The report files hold no wall-clock time (processing and publication times are left out): two
replays of the same footage with the same config and models give byte-identical reports. Evidence paths point
into the audit folder's own content-addressed store (`evidence/<sha[:2]>/<sha>.jpg`).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPORT_JSONL, REPORT_CSV, REPORT_HTML = "passages.jsonl", "passages.csv", "report.html"
EVIDENCE_KINDS = ("vehicle_crop", "plate_crop", "frame")
CSV_COLUMNS = (
    "passage_id", "track_id", "camera_id", "gateway_id", "footage_offset_s", "captured_at_utc", "captured_at_local",
    "first_seen_utc", "last_seen_utc", "direction", "vehicle_class", "plate_status", "plate_text", "plate_lines",
    "plate_layout", "plate_colour", "plate_confidence", "colour_confidence", "candidates", "outcome", "zone_id",
    "policy_id", "action", "legal_reference", "reasons", "registry", "violation_id", "liability_window",
    *(f"{kind}_sha256" for kind in EVIDENCE_KINDS),
)


@dataclass(frozen=True)
class ReplayFacts:
    """What the report says about the replay itself (no wall-clock times: the report must be reproducible)."""

    input_name: str
    input_sha256: str
    camera_id: str
    start_time: datetime
    config_sha256: str
    software_version: str
    models: Mapping[str, str]
    topics: Sequence[str]
    complete: bool
    stop_reason: str  # empty when the recording was processed to its end
    frames_decoded: int
    frames_declared: int
    last_frame_time: datetime | None
    decode_errors: int
    dropped_frames: int


def _offset_s(at: str, start: datetime) -> float:
    return round((datetime.fromisoformat(at) - start).total_seconds(), 3)


def build_rows(plate_reads: Sequence[Mapping[str, Any]], violations: Sequence[Mapping[str, Any]],
               start: datetime) -> list[dict[str, Any]]:
    """One row per passage (timeline order); a violating passage carries its violation's id and registry facts."""
    by_passage = {v["message_id"]: v for v in violations}
    rows = []
    for msg in sorted(plate_reads, key=lambda m: (m["first_seen"], m["track_id"])):
        plate, decision = msg["plate"], msg["decision"]
        violation = by_passage.get(msg["message_id"])
        rows.append({
            "passage_id": msg["message_id"], "track_id": msg["track_id"], "camera_id": msg["camera_id"],
            "gateway_id": msg["gateway_id"], "footage_offset_s": _offset_s(msg["captured_at_utc"], start),
            "captured_at_utc": msg["captured_at_utc"], "captured_at_local": msg["captured_at_local"],
            "first_seen_utc": msg["first_seen"], "last_seen_utc": msg["last_seen"],
            "direction": msg["direction"], "vehicle_class": msg["vehicle_class"],
            "plate_status": plate["status"], "plate_text": plate["text"], "plate_lines": plate["lines"],
            "plate_layout": plate["layout"], "plate_colour": plate["colour"],
            "plate_confidence": plate["confidence"], "colour_confidence": plate["colour_confidence"],
            "candidates": plate["candidates"], "outcome": decision["outcome"], "zone_id": decision["zone_id"],
            "policy_id": decision["policy_id"], "action": decision["action"],
            "legal_reference": decision["legal_reference"], "reasons": decision["reasons"],
            "registry": violation["registry"] if violation else None,
            "violation_id": violation["violation_id"] if violation else None,
            "liability_window": violation["liability_window"] if violation else None,
            "evidence": [{"kind": e["kind"], "sha256": e["sha256"], "path": "evidence/" + e["path"]}
                         for e in msg["evidence"]],
        })
    return rows


def summary_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "passages": len(rows),
        "unreadable": sum(1 for r in rows if r["plate_status"] == "unreadable"),
        "violations": sum(1 for r in rows if r["violation_id"]),
        "outcomes": dict(sorted(Counter(str(r["outcome"]) for r in rows).items())),
        "directions": dict(sorted(Counter(str(r["direction"]) for r in rows).items())),
    }


def _csv_row(row: Mapping[str, Any]) -> dict[str, str]:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)

    out = {key: cell(row[key]) for key in CSV_COLUMNS if key in row}
    for kind in EVIDENCE_KINDS:
        out[f"{kind}_sha256"] = next((e["sha256"] for e in row["evidence"] if e["kind"] == kind), "")
    return out


def write_reports(out_dir: Path, rows: Sequence[Mapping[str, Any]], facts: ReplayFacts) -> list[Path]:
    jsonl = out_dir / REPORT_JSONL
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
                     encoding="utf-8")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(_csv_row(row))
    (out_dir / REPORT_CSV).write_text(buf.getvalue(), encoding="utf-8")
    (out_dir / REPORT_HTML).write_text(render_html(rows, facts), encoding="utf-8")
    return [jsonl, out_dir / REPORT_CSV, out_dir / REPORT_HTML]


# -- HTML --------------------------------------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;font-size:13px}
.timeline{position:relative;height:46px;background:#f3f3f3;border:1px solid #bbb;margin:8px 0 20px}
.mark{position:absolute;top:4px;width:10px;height:36px;margin-left:-5px;border-radius:2px;display:block}
.violation{background:#c62828}.compliant{background:#2e7d32}.needs_review{background:#ef6c00}
.exempt{background:#1565c0}.not_applicable{background:#757575}.passage{border:1px solid #bbb;margin:14px 0;
padding:10px}.passage img{max-height:160px;margin-right:8px;border:1px solid #999}.bad{color:#c62828;
font-weight:bold}.hash{font-family:monospace;font-size:11px}"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _kv_table(items: Sequence[tuple[str, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items) + "</table>"


def _header(rows: Sequence[Mapping[str, Any]], facts: ReplayFacts) -> str:
    counts = summary_counts(rows)
    status = ("complete: processed to the end of the recording" if facts.complete
              else f"INCOMPLETE: {facts.stop_reason}")
    last = "-"
    if facts.last_frame_time is not None:
        offset = (facts.last_frame_time - facts.start_time).total_seconds()
        last = f"{offset:.3f} s ({facts.last_frame_time.astimezone(facts.start_time.tzinfo).isoformat()})"
    items: list[tuple[str, Any]] = [
        ("recording", facts.input_name), ("recording sha256", facts.input_sha256), ("camera", facts.camera_id),
        ("footage start", facts.start_time.isoformat()), ("status", status),
        ("frames decoded / declared", f"{facts.frames_decoded} / {facts.frames_declared or '?'}"),
        ("last frame decoded (footage time)", last), ("decode errors", facts.decode_errors),
        ("dropped frames", facts.dropped_frames), ("passages", counts["passages"]),
        ("unreadable plates", counts["unreadable"]), ("violations", counts["violations"]),
        ("outcomes", counts["outcomes"]), ("directions", counts["directions"]),
        ("published to", ", ".join(facts.topics) or "(no Kafka: audit folder only)"),
        ("config sha256", facts.config_sha256), ("software", facts.software_version),
        *((f"model {name}", sha) for name, sha in sorted(facts.models.items())),
    ]
    css_class = "" if facts.complete else " class='bad'"
    return f"<h1>Audit replay: {_e(facts.input_name)}</h1><p{css_class}>{_e(status)}</p>{_kv_table(items)}"


def _timeline(rows: Sequence[Mapping[str, Any]], facts: ReplayFacts) -> str:
    span = max([1e-6, *(r["footage_offset_s"] for r in rows)])
    if facts.last_frame_time is not None:
        span = max(span, (facts.last_frame_time - facts.start_time).total_seconds())
    marks = "".join(
        f"<a class='mark {_e(r['outcome'])}' href='#p{i}' style='left:{100 * r['footage_offset_s'] / span:.2f}%' "
        f"title='{_e(r['footage_offset_s'])} s: {_e(r['direction'])}, {_e(r['outcome'])}'></a>"
        for i, r in enumerate(rows))
    return (f"<h2>Timeline (footage seconds 0 – {span:.1f})</h2><div class='timeline'>{marks}</div>"
            "<p>red violation · green compliant · orange needs review · blue exempt · grey not applicable</p>")


def _passage(index: int, row: Mapping[str, Any]) -> str:
    images = "".join(
        f"<a href='{_e(e['path'])}'><img src='{_e(e['path'])}' alt='{_e(e['kind'])}' title='{_e(e['kind'])}'></a>"
        for kind in EVIDENCE_KINDS for e in row["evidence"] if e["kind"] == kind)
    candidates = "; ".join(f"{c['text']} ({c['confidence']:.2f}, {c.get('source', '')})" for c in row["candidates"])
    registry = row["registry"]
    items: list[tuple[str, Any]] = [
        ("footage time", f"{row['footage_offset_s']} s = {row['captured_at_local']} (UTC {row['captured_at_utc']})"),
        ("seen", f"{row['first_seen_utc']} → {row['last_seen_utc']}"), ("direction", row["direction"]),
        ("vehicle", row["vehicle_class"]),
        ("read", f"{row['plate_status']}: {row['plate_text'] or '-'} (lines {row['plate_lines']}, "
                 f"layout {row['plate_layout']}, confidence {row['plate_confidence']:.2f})"),
        ("OCR candidates", candidates or "-"),
        ("colour", f"{row['plate_colour']} (confidence {row['colour_confidence']:.2f})"),
        ("registry facts used", json.dumps(registry, ensure_ascii=False, sort_keys=True) if registry else "-"),
        ("decision", f"{row['outcome']} (zone {row['zone_id'] or '-'})"),
        ("policy", f"{row['policy_id'] or '-'} → {row['action'] or '-'}"),
        ("legal reference", row["legal_reference"] or "-"), ("reasons", "; ".join(row["reasons"]) or "-"),
        ("violation id", row["violation_id"] or "-"), ("passage id", row["passage_id"]),
    ]
    hashes = "".join(f"<div class='hash'>{_e(e['kind'])}: {_e(e['sha256'])}</div>" for e in row["evidence"])
    return (f"<div class='passage' id='p{index}'><h3>#{index + 1} · track {_e(row['track_id'])} · "
            f"<span class='{_e(row['outcome'])}' style='color:#fff;padding:0 4px'>{_e(row['outcome'])}</span></h3>"
            f"<div>{images or '<em>no evidence image (no plate crop)</em>'}</div>{_kv_table(items)}"
            f"<div>evidence sha256:{hashes or ' -'}</div></div>")


def render_html(rows: Sequence[Mapping[str, Any]], facts: ReplayFacts) -> str:
    body = _header(rows, facts) + _timeline(rows, facts) + "<h2>Passages</h2>"
    body += "".join(_passage(i, r) for i, r in enumerate(rows)) or "<p>No passage in this recording.</p>"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Audit replay "
            f"{_e(facts.input_name)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")

"""Wire schema: contract with the committed JSON Schema, deterministic ids, rejection of bad messages."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from rules.types import (
    Action,
    Decision,
    Direction,
    Fuel,
    OcrCandidate,
    Outcome,
    Passage,
    PlateColour,
    PlateLayout,
    PlateRead,
    ReadStatus,
    RegistryRecord,
    VehicleClass,
)
from sinks import export_schema
from sinks.consume import ConsumeStats, handle_record
from sinks.evidence import EvidenceRef
from sinks.schema import (
    TOPIC_PLATE_READS,
    TOPIC_VIOLATIONS,
    MessageContext,
    PlateReadMessageV1,
    ViolationMessageV1,
    build_plate_read_message,
    build_violation_message,
    deterministic_dump,
    message_key,
    violation_id,
)

T0 = datetime(2026, 7, 3, 12, 0, 0, 250_000, tzinfo=UTC)  # 19:00 local, Friday: Area 1 ban starts
SHA = "ab" * 32


def make_passage(
    track_id: int = 7, camera_id: str = "cam-hk-01", text: str = "30A12345", offset_s: float = 0
) -> Passage:
    t = T0 + timedelta(seconds=offset_s)
    plate = PlateRead(
        status=ReadStatus.READ if text else ReadStatus.UNREADABLE,
        text=text,
        lines=(text[:3], text[3:]) if text else (),
        layout=PlateLayout.TWO_LINE,
        colour=PlateColour.WHITE,
        confidence=0.93,
        colour_confidence=0.8,
        candidates=(OcrCandidate("30A12345", 0.93, "ppocr"), OcrCandidate("30A12845", 0.41, "easyocr")),
    )
    return Passage(
        camera_id=camera_id,
        track_id=track_id,
        event_time=t + timedelta(seconds=1),
        first_seen=t,
        last_seen=t + timedelta(seconds=2),
        vehicle_class=VehicleClass.MOTORCYCLE,
        plate=plate,
        direction=Direction.ENTRY,
    )


def make_decision(violation: bool = True) -> Decision:
    if not violation:
        return Decision(outcome=Outcome.COMPLIANT, zone_id="hk-area-1")
    record = RegistryRecord(
        plate="30A12345",
        vehicle_class=VehicleClass.MOTORCYCLE,
        fuel=Fuel.PETROL,
        emission_level=None,
        commercial=False,
        valid_from=datetime(2024, 1, 1, tzinfo=UTC),
    )
    return Decision(
        outcome=Outcome.VIOLATION,
        zone_id="hk-area-1",
        policy_id="hk-area1-weekend-night",
        action=Action.WARN,
        legal_reference="Decree 168/2024 Art. 7 cl. 6 pt. b",
        reasons=("motorcycle in Area 1 Fri 19:00-24:00",),
        registry_record=record,
        liability_window="2026-07-03",
    )


def make_ctx() -> MessageContext:
    return MessageContext(
        gateway_id="gw-hoan-kiem-1",
        gps_lat=21.0285,
        gps_lon=105.8524,
        model_hashes={"plate_detector.onnx": "cd" * 32, "yolov8n.onnx": "ef" * 32},
        config_sha256="12" * 32,
        software_version="0.1.0",
        evidence=(EvidenceRef("frame", SHA, f"ab/{SHA}.jpg", 1234),),
        processed_at=T0 + timedelta(seconds=3),
    )


def test_violation_message_fields_and_local_time() -> None:
    msg = build_violation_message(make_passage(), make_decision(), make_ctx())
    data = json.loads(msg.model_dump_json())
    assert data["captured_at_local"] == "2026-07-03T19:00:01.250000+07:00"
    assert data["captured_at_utc"].endswith("Z") or data["captured_at_utc"].endswith("+00:00")
    assert data["registry"] == {
        "vehicle_class": "motorcycle",
        "fuel": "petrol",
        "emission_level": None,
        "commercial": False,
        "permits": [],
        "exemptions": [],
        "valid_from": "2024-01-01T00:00:00Z",
        "valid_to": None,
    }
    assert data["liability"] == "per_entry"
    assert data["gps"] == {"lat": 21.0285, "lon": 105.8524}
    assert data["action"] == "warn" and data["policy_id"] == "hk-area1-weekend-night"
    assert data["plate"]["candidates"][1] == {"text": "30A12845", "confidence": 0.41, "source": "easyocr"}
    assert ViolationMessageV1.model_validate_json(msg.model_dump_json()) == msg  # round trip


def test_ids_are_deterministic_and_sensitive_to_every_input() -> None:
    a = build_violation_message(make_passage(), make_decision(), make_ctx())
    b = build_violation_message(make_passage(), make_decision(), make_ctx())
    assert a.violation_id == b.violation_id and a.message_id == b.message_id
    assert deterministic_dump(a) == deterministic_dump(b)
    expected = uuid.uuid5(
        uuid.UUID("6f1d3c2a-8b4e-5a7f-9c21-4e0b7d5a3f10"),
        "cam-hk-01|7|2026-07-03T12:00:00.250000+00:00|hk-area1-weekend-night|2026-07-03",
    )
    assert a.violation_id == expected
    base = ("cam-hk-01", 7, T0, "p", "w")
    variants = [
        ("cam-x", 7, T0, "p", "w"),
        ("cam-hk-01", 8, T0, "p", "w"),
        ("cam-hk-01", 7, T0 + timedelta(microseconds=1), "p", "w"),
        ("cam-hk-01", 7, T0, "q", "w"),
        ("cam-hk-01", 7, T0, "p", "w2"),
    ]
    ids = {violation_id(*v) for v in [base, *variants]}
    assert len(ids) == 6
    # The same instant in another timezone is the same id.
    assert violation_id("c", 1, T0, "p", "w") == violation_id("c", 1, T0.astimezone(make_ctx_tz()), "p", "w")


def make_ctx_tz() -> Any:
    from sinks.schema import LOCAL_TZ

    return LOCAL_TZ


def test_plate_read_unreadable_has_null_text_and_key_is_camera() -> None:
    msg = build_plate_read_message(make_passage(text=""), make_decision(violation=False), make_ctx())
    assert msg.plate.text is None and msg.plate.status is ReadStatus.UNREADABLE
    assert message_key(TOPIC_PLATE_READS, msg) == b"cam-hk-01"
    vio = build_violation_message(make_passage(), make_decision(), make_ctx())
    assert message_key(TOPIC_VIOLATIONS, vio) == str(vio.violation_id).encode()


def test_builder_refuses_non_violation() -> None:
    with pytest.raises(ValueError, match="not a violation"):
        build_violation_message(make_passage(), make_decision(violation=False), make_ctx())


def _good() -> dict[str, Any]:
    msg = build_violation_message(make_passage(), make_decision(), make_ctx())
    data: dict[str, Any] = json.loads(msg.model_dump_json())
    return data


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("violation_id",), str(uuid.uuid4())),  # random id: not derived from its inputs
        (("message_id",), str(uuid.uuid4())),
        (("captured_at_local",), "2026-07-03T12:00:01.250000+00:00"),  # not +07:00
        (("captured_at_utc",), "2026-07-03T19:00:01.250000+07:00"),  # not UTC
        (("plate", "confidence"), 1.5),
        (("plate", "text"), None),  # read plate without text
        (("decision", "outcome"), "compliant"),
        (("config_sha256",), "not-a-hash"),
        (("schema_version",), "2.0"),
        (("unexpected_field",), 1),
        (("gps", "lat"), 123.0),
    ],
)
def test_validation_rejects_bad_messages(path: tuple[str, ...], value: Any) -> None:
    data = _good()
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        ViolationMessageV1.model_validate(data)


def test_committed_json_schema_matches_models() -> None:
    """Contract: the committed files are exactly what the models export (run `python -m sinks.export_schema`)."""
    for filename, model in export_schema.EXPORTS.items():
        committed = Path(export_schema.SCHEMA_DIR / filename).read_text(encoding="utf-8")
        assert committed == export_schema.render(model, filename), f"{filename} drifted from {model.__name__}"


def test_committed_json_schema_accepts_real_messages_and_rejects_bad() -> None:
    vio_schema = json.loads((export_schema.SCHEMA_DIR / "violation.v1.json").read_text(encoding="utf-8"))
    pr_schema = json.loads((export_schema.SCHEMA_DIR / "plate-read.v1.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(vio_schema).validate(_good())
    pr = build_plate_read_message(make_passage(text=""), make_decision(violation=False), make_ctx())
    jsonschema.Draft202012Validator(pr_schema).validate(json.loads(pr.model_dump_json()))
    bad = _good()
    del bad["violation_id"]
    assert not jsonschema.Draft202012Validator(vio_schema).is_valid(bad)


def test_drift_is_detected_by_check_mode(tmp_path: Path) -> None:
    assert export_schema.main(["--out-dir", str(tmp_path)]) == 0
    assert export_schema.main(["--out-dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "violation.v1.json").write_text("{}\n", encoding="utf-8")
    assert export_schema.main(["--out-dir", str(tmp_path), "--check"]) == 1


def test_consume_handler_counts_bad_and_duplicate_records() -> None:
    good = build_violation_message(make_passage(), make_decision(), make_ctx()).model_dump_json().encode()
    other = build_violation_message(make_passage(track_id=8), make_decision(), make_ctx()).model_dump_json().encode()
    stats, out, err = ConsumeStats(), StringIO(), StringIO()
    for value in (good, b"\xff\x00 not json", good, b'{"schema_version": "1.0"}', None, other):
        handle_record(TOPIC_VIOLATIONS, value, stats, False, out, err)
    assert (stats.received, stats.valid, stats.duplicates, stats.invalid) == (6, 2, 1, 3)
    assert len(out.getvalue().splitlines()) == 2 and err.getvalue().count("invalid") == 3


def test_plate_read_model_is_not_a_violation() -> None:
    pr = build_plate_read_message(make_passage(), make_decision(), make_ctx())
    with pytest.raises(ValidationError):
        ViolationMessageV1.model_validate_json(pr.model_dump_json())  # missing violation fields
    PlateReadMessageV1.model_validate_json(pr.model_dump_json())


def _per_day(track_id: int = 7, camera_id: str = "cam-hk-01", text: str = "30A12345") -> ViolationMessageV1:
    from dataclasses import replace

    decision = replace(make_decision(), liability="per_day", zone_phase="pilot")
    return build_violation_message(make_passage(track_id, camera_id, text), decision, make_ctx())


def test_per_day_violation_id_is_keyed_by_plate_policy_and_day() -> None:
    a, b = _per_day(7, "cam-hk-01"), _per_day(99, "cam-hk-02")  # another camera, another track, same vehicle/day
    assert a.violation_id == b.violation_id and a.liability == "per_day"
    assert a.violation_id == uuid.uuid5(uuid.UUID("6f1d3c2a-8b4e-5a7f-9c21-4e0b7d5a3f10"),
                                        "per_day|30A12345|hk-area1-weekend-night|2026-07-03")
    assert _per_day(text="30A12346").violation_id != a.violation_id
    assert a.decision.zone_phase == "pilot"
    with pytest.raises(ValueError, match="plate text required"):
        violation_id("c", 1, T0, "p", "2026-07-03", liability="per_day")
    with pytest.raises(ValueError, match="unknown liability"):
        violation_id("c", 1, T0, "p", "w", liability="per_week")


@pytest.mark.parametrize(("path", "value"), [
    (("liability",), "per_entry"),  # the id was computed per day: switching the liability breaks it
    (("liability",), "per_week"),
    (("plate", "text"), "30A12399"),  # another plate: the id no longer matches
    (("registry", "valid_from"), "2024-01-01T00:00:00"),  # naive
])
def test_per_day_contract_rejects_inconsistent_messages(path: tuple[str, ...], value: Any) -> None:
    data: dict[str, Any] = json.loads(_per_day().model_dump_json())
    ViolationMessageV1.model_validate(data)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        ViolationMessageV1.model_validate(data)


def test_messages_without_the_newer_optional_fields_still_validate() -> None:
    """Additive fields have defaults: a v1.0 producer that predates them stays valid for consumers."""
    data = _good()
    for key in ("zone_phase", "permit_id"):
        del data["decision"][key]
    for key in ("exemptions", "valid_from", "valid_to"):
        del data["registry"][key]
    del data["liability"]
    message = ViolationMessageV1.model_validate(data)
    assert message.liability == "per_entry" and message.decision.zone_phase is None


def test_schema_documents_every_field_the_data_centre_relies_on() -> None:
    schema = json.loads((export_schema.SCHEMA_DIR / "violation.v1.json").read_text(encoding="utf-8"))
    required = set(schema["required"])
    for field in ("violation_id", "message_id", "captured_at_utc", "captured_at_local", "camera_id", "gateway_id",
                  "gps", "direction", "plate", "vehicle_class", "registry", "policy_id", "legal_reference",
                  "evidence", "models", "config_sha256", "software_version", "liability_window", "action"):
        assert field in required, field
    assert set(schema["properties"]["liability"]["enum"]) == {"per_entry", "per_day"}

"""Registry in SQLite: CSV and JSON import, look-up at event time (re-issued plates), bad rows kept out, reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.registry import Registry, RegistryError
from rules.registry_db import RegistryDb, import_files, open_registry, parse_json
from rules.types import Fuel, VehicleClass

LOCAL = timezone(timedelta(hours=7))
HEADER = "plate,vehicle_class,fuel,emission_level,commercial,valid_from,valid_to,permits,exemptions"
CSV_ROWS = [
    "30A12345,car,petrol,2,false,2015-01-01,2026-08-01,,",  # re-issued on 1 Aug 2026 (local midnight)
    "30A12345,car,electric,,false,2026-08-01,,hk-area1@2026-08-01/2026-12-31,",
    "29AA12345,motorcycle,petrol,,yes,2021-05-01T08:30:00+07:00,,,priority",
]


@pytest.fixture()
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.csv"
    path.write_text("\n".join([HEADER, *CSV_ROWS]) + "\n", encoding="utf-8")
    return path


def test_csv_import_and_lookup_at_event_time(tmp_path: Path, csv_file: Path) -> None:
    report = import_files(tmp_path / "reg.db", [csv_file])
    assert (report.imported, report.errors, report.total) == (3, (), 3)
    db = RegistryDb.open(tmp_path / "reg.db", readonly=True)
    before = db.lookup("30A12345", datetime(2026, 7, 31, 16, 59, 59, 999999, tzinfo=UTC))  # 23:59:59.999999 local
    after = db.lookup("30A12345", datetime(2026, 7, 31, 17, 0, tzinfo=UTC))  # 00:00 local, 1 Aug
    assert before is not None and before.fuel is Fuel.PETROL and before.emission_level == 2
    assert after is not None and after.fuel is Fuel.ELECTRIC and after.permits == ("hk-area1@2026-08-01/2026-12-31",)
    assert after.valid_from == datetime(2026, 8, 1, tzinfo=LOCAL) and after.valid_to is None
    bike = db.lookup("29AA12345", datetime(2026, 7, 3, tzinfo=UTC))
    assert bike is not None and bike.commercial and bike.exemptions == ("priority",)
    assert bike.vehicle_class is VehicleClass.MOTORCYCLE
    assert db.lookup("29AA12345", datetime(2021, 5, 1, 1, 29, tzinfo=UTC)) is None  # 08:29 local: not yet
    assert db.lookup("30K99999", datetime(2026, 7, 3, tzinfo=UTC)) is None
    assert len(db) == 3 and len(db.records("30A12345")) == 2 and len(db.registry_sha256()) == 64
    with pytest.raises(ValueError, match="timezone-aware"):
        db.lookup("30A12345", datetime(2026, 7, 3))
    db.close()


def test_json_import_with_json_types(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"records": [
        {"plate": "30A-123.45", "vehicle_class": "car", "fuel": "diesel", "emission_level": 3, "commercial": False,
         "valid_from": "2020-01-01", "valid_to": None, "permits": ["ring1-pilot"], "exemptions": []},
        {"plate": "30A12345", "vehicle_class": "car", "fuel": "diesel", "emission_level": 9, "commercial": False,
         "valid_from": "2030-01-01"},  # bad level: reported by index, not imported
        {"plate": "29AA12345", "vehicle_class": "motorcycle", "fuel": "electric", "commercial": True,
         "valid_from": "2024-01-01", "colour": "white"},  # unknown field
        "not an object",
    ]}), encoding="utf-8")
    report = import_files(tmp_path / "reg.db", [path])
    assert report.imported == 1 and [e.line for e in report.errors] == [1, 2, 3]
    assert "emission_level" in str(report.errors[0]) and "unknown field" in str(report.errors[1])
    assert str(report.errors[0]).startswith(f"{path}:1:")
    record = RegistryDb.open(tmp_path / "reg.db").lookup("30A12345", datetime(2026, 7, 3, tzinfo=UTC))
    assert record is not None and record.fuel is Fuel.DIESEL and record.permits == ("ring1-pilot",)


@pytest.mark.parametrize("text", ["{", "42", '{"rows": []}'])
def test_unusable_json_is_one_clear_error(text: str) -> None:
    with pytest.raises(RegistryError, match=r"reg\.json"):
        parse_json(text, source="reg.json")


def test_overlap_with_stored_rows_is_refused_and_replace_starts_over(tmp_path: Path, csv_file: Path) -> None:
    db_path = tmp_path / "reg.db"
    import_files(db_path, [csv_file])
    again = import_files(db_path, [csv_file])
    assert again.imported == 0 and len(again.errors) == 3 and again.total == 3
    assert "overlaps a stored record" in str(again.errors[0])
    replaced = import_files(db_path, [csv_file], replace=True)
    assert (replaced.imported, replaced.errors, replaced.total) == (3, (), 3)


def test_open_registry_picks_the_backend_by_suffix(tmp_path: Path, csv_file: Path) -> None:
    memory, errors = open_registry(csv_file)
    assert isinstance(memory, Registry) and errors == () and len(memory) == 3
    import_files(tmp_path / "reg.sqlite", [csv_file])
    sqlite, _ = open_registry(tmp_path / "reg.sqlite")
    assert isinstance(sqlite, RegistryDb) and len(sqlite) == 3


def test_missing_or_foreign_database_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not found"):
        RegistryDb.open(tmp_path / "missing.db", readonly=True)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RegistryError, match="not a registry database"):
        RegistryDb.open(junk, readonly=True)


def test_digest_changes_with_the_content(tmp_path: Path, csv_file: Path) -> None:
    import_files(tmp_path / "a.db", [csv_file])
    other = tmp_path / "other.csv"
    other.write_text("\n".join([HEADER, CSV_ROWS[0]]) + "\n", encoding="utf-8")
    import_files(tmp_path / "b.db", [other])
    assert RegistryDb.open(tmp_path / "a.db").registry_sha256() != RegistryDb.open(tmp_path / "b.db").registry_sha256()


INSTANT = st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2032, 1, 1), timezones=st.just(UTC))


@settings(max_examples=60, deadline=None)
@given(st.lists(INSTANT, min_size=1, max_size=20))
def test_sqlite_and_memory_agree_at_every_instant(tmp_path_factory: pytest.TempPathFactory,
                                                  instants: list[datetime]) -> None:
    folder = tmp_path_factory.mktemp("agree")
    path = folder / "registry.csv"
    path.write_text("\n".join([HEADER, *CSV_ROWS]) + "\n", encoding="utf-8")
    memory = Registry.from_csv(path).registry
    import_files(folder / "reg.db", [path])
    db = RegistryDb.open(folder / "reg.db", readonly=True)
    for at in instants:
        for plate in ("30A12345", "29AA12345"):
            assert db.lookup(plate, at) == memory.lookup(plate, at)
    db.close()

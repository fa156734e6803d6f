"""Registry: plate → facts valid for a period, looked up at event time; bad rows reported, good rows kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rules.registry import Registry, RegistryError, parse_permit, permit_covers
from rules.types import Fuel, RegistryRecord, VehicleClass

HEADER = "plate,vehicle_class,fuel,emission_level,commercial,valid_from,valid_to,permits,exemptions"
LOCAL = timezone(timedelta(hours=7))


def load(*rows: str, strict: bool = False) -> tuple[Registry, list[str]]:
    result = Registry.parse_csv([HEADER, *rows], source="reg.csv", strict=strict)
    return result.registry, [str(e) for e in result.errors]


def test_reads_rows_with_types_and_local_dates() -> None:
    registry, errors = load("30A-123.45,car,petrol,3,false,2020-01-01,,ring1-pilot@2026-07-01/2026-12-31,",
                            "29AA12345,motorcycle,electric,,yes,2021-05-01T08:30:00,,,priority; vip ")
    assert errors == []
    car = registry.lookup("30A12345", datetime(2026, 7, 3, tzinfo=UTC))
    assert car is not None
    assert (car.vehicle_class, car.fuel, car.emission_level, car.commercial) == (VehicleClass.CAR, Fuel.PETROL, 3,
                                                                                 False)
    assert car.valid_from == datetime(2020, 1, 1, tzinfo=LOCAL)  # naive date = local midnight
    assert car.permits == ("ring1-pilot@2026-07-01/2026-12-31",)
    bike = registry.lookup("29AA12345", datetime(2026, 7, 3, tzinfo=UTC))
    assert bike is not None and bike.exemptions == ("priority", "vip") and bike.emission_level is None
    assert bike.commercial


def test_validity_is_start_inclusive_end_exclusive() -> None:
    registry, _ = load("30A12345,car,petrol,3,false,2026-01-01,2027-01-01,,")
    start = datetime(2026, 1, 1, tzinfo=LOCAL)
    end = datetime(2027, 1, 1, tzinfo=LOCAL)
    assert registry.lookup("30A12345", start) is not None
    assert registry.lookup("30A12345", start - timedelta(microseconds=1)) is None
    assert registry.lookup("30A12345", end - timedelta(microseconds=1)) is not None
    assert registry.lookup("30A12345", end) is None
    assert registry.lookup("30A99999", start) is None


def test_reissued_plate_resolves_by_event_time() -> None:
    registry, errors = load("30A12345,car,petrol,2,false,2015-01-01,2026-08-01,,",
                            "30A12345,car,electric,,false,2026-08-01,,,")
    assert errors == []
    before = registry.lookup("30A12345", datetime(2026, 7, 31, 12, tzinfo=UTC))
    after = registry.lookup("30A12345", datetime(2026, 8, 1, 12, tzinfo=UTC))
    assert before is not None and before.fuel is Fuel.PETROL
    assert after is not None and after.fuel is Fuel.ELECTRIC
    assert len(registry.records("30A12345")) == 2


def test_bad_rows_are_reported_by_line_and_good_rows_kept() -> None:
    result = Registry.parse_csv([
        "# comment line",
        HEADER,
        "30A12345,car,petrol,3,false,2020-01-01,,,",
        "30B12345,spaceship,petrol,3,false,2020-01-01,,,",
        "",
        "30C12345,car,petrol,three,false,2020-01-01,,,",
        "30D12345,car,petrol,3,maybe,2020-01-01,,,",
        "30E12345,car,petrol,3,false,01/02/2020,,,",
        "13A12345,car,petrol,3,false,2020-01-01,,,",
        "30F12345,car,petrol,9,false,2020-01-01,,,",
        "30G12345,car,petrol,3,false,2020-01-01,2019-01-01,,",
        "30H12345,car,petrol,3,false,2020-01-01,,ring1@tomorrow,",
        "30K12345,car,petrol,3",
        "30A12345,car,diesel,3,false,2024-01-01,,,",
        "29AA12345,motorcycle,petrol,,false,2020-01-01,,,",
    ], source="data/reg.csv")
    errors = {e.line: str(e) for e in result.errors}
    assert set(errors) == {4, 6, 7, 8, 9, 10, 11, 12, 13, 14}
    assert errors[4].startswith("data/reg.csv:4: column vehicle_class: 'spaceship'")
    assert "emission_level" in errors[6] and "commercial" in errors[7] and "valid_from" in errors[8]
    assert "not a valid Vietnamese plate" in errors[9] and "13A12345" not in errors[9]  # no plate text in errors
    assert "emission_level must be 1..6" in errors[10] and "valid_to must be after" in errors[11]
    assert "permit" in errors[12] and "expected 9 cells" in errors[13] and "overlaps" in errors[14]
    assert len(result.registry) == 2
    assert result.registry.lookup("29AA12345", datetime(2026, 1, 1, tzinfo=UTC)) is not None


def test_strict_load_raises_with_every_error() -> None:
    with pytest.raises(RegistryError, match=r"2 bad registry row\(s\):\nreg.csv:2: .*\nreg.csv:3: "):
        load("30B12345,spaceship,petrol,3,false,2020-01-01,,,", "30C12345,car,petrol,x,false,2020-01-01,,,",
             strict=True)


@pytest.mark.parametrize("header", ["plate,fuel", HEADER + ",colour", "", HEADER.replace("fuel", "plate")])
def test_bad_or_missing_header_is_fatal(header: str) -> None:
    with pytest.raises(RegistryError, match="header"):
        Registry.parse_csv([header] if header else [], source="reg.csv")


def test_from_csv_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(f"{HEADER}\n30A12345,car,petrol,3,false,2020-01-01,,,\nbroken\n", encoding="utf-8")
    result = Registry.from_csv(path)
    assert len(result.registry) == 1
    assert [str(e).split(": ")[0] for e in result.errors] == [f"{path}:3"]


def test_from_records_rejects_overlaps_and_naive_records_fail_early() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    record = RegistryRecord("30A12345", VehicleClass.CAR, Fuel.PETROL, 3, False, start)
    assert len(Registry.from_records([record])) == 1
    with pytest.raises(ValueError, match="overlaps"):
        Registry.from_records([record, RegistryRecord("30A12345", VehicleClass.CAR, Fuel.DIESEL, 3, False,
                                                      start + timedelta(days=1))])
    with pytest.raises(ValueError, match="timezone-aware"):
        Registry.from_records([record]).lookup("30A12345", datetime(2026, 1, 1))


def test_permits() -> None:
    assert parse_permit("*").covers("any-zone", date(2030, 1, 1))
    dated = parse_permit("ring1-pilot@2026-07-01/2026-12-31")
    assert dated.covers("ring1-pilot", date(2026, 12, 31))
    assert not dated.covers("ring1-pilot", date(2027, 1, 1))
    assert not dated.covers("hk-area1", date(2026, 8, 1))
    assert permit_covers(["nonsense@x", "hk-area1"], "hk-area1", date(2026, 8, 1))
    for bad in ("@2026-01-01/2026-02-01", "z@2026-01-01", "z@2026-02-01/2026-01-01"):
        with pytest.raises(ValueError):
            parse_permit(bad)


def test_demo_registry_file_loads_cleanly() -> None:
    path = Path(__file__).resolve().parents[2] / "configs" / "demo" / "registry.csv"
    result = Registry.from_csv(path, strict=True)
    assert len(result.registry) >= 3


def test_non_utf8_registry_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_bytes(b"plate,vehicle_class\n30A12345,car\n\xff\xfe bad\n")
    with pytest.raises(RegistryError, match=r"registry\.csv:3: not UTF-8"):
        Registry.from_csv(path)

"""Plate → registration/inspection facts, valid for a period (plates are re-issued), looked up at event time.

CSV columns (header required, order free): plate,vehicle_class,fuel,emission_level,commercial,valid_from,valid_to,
permits,exemptions. `permits`/`exemptions` are `;`-separated. Dates are ISO (`2026-07-01` or
`2026-07-01T08:00:00[+07:00]`); naive values are local time in the registry's timezone (default
Asia/Ho_Chi_Minh); a bare date is local midnight. `valid_to` is exclusive and may be empty (open-ended).
Blank lines and lines starting with `#` are skipped. `vehicle_class` `truck` means a goods vehicle over 3.5 t gross
weight (the plate does not tell the weight; the registry must).

A permit is `ZONE_ID` or `*` (every zone), optionally limited to local dates, both inclusive:
`ring1-pilot@2026-07-01/2026-12-31` (trusted as the registry is), or a signed payload `LEZP1.…` (rules.permits),
which the engine verifies with the box's key at event time, exactly like one shown on a QR code.

The same rows can come as JSON (`rules.registry_db`), and be imported into SQLite for a large register.

A broken row never loses the good ones: `parse_csv` returns the registry of every good row plus one error per bad
row, naming the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from rules import plate_grammar
from rules.permits import is_signed_permit
from rules.types import Fuel, RegistryRecord, VehicleClass

COLUMNS: tuple[str, ...] = ("plate", "vehicle_class", "fuel", "emission_level", "commercial", "valid_from",
                            "valid_to", "permits", "exemptions")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", ""}


class RegistryError(ValueError):
    """A registry that cannot be used at all (missing columns), or a strict load that met bad rows."""


@dataclass(frozen=True)
class RowError:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True)
class RegistryLoad:
    registry: Registry
    errors: tuple[RowError, ...]


@dataclass(frozen=True)
class Permit:
    zone_id: str  # "*" for every zone
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive

    def covers(self, zone_id: str, day: date) -> bool:
        if self.zone_id not in ("*", zone_id):
            return False
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


def parse_permit(text: str) -> Permit:
    zone_id, _, period = text.strip().partition("@")
    if not zone_id:
        raise ValueError(f"permit {text!r} names no zone")
    if not period:
        return Permit(zone_id)
    start, sep, end = period.partition("/")
    if not sep:
        raise ValueError(f"permit {text!r}: period must be FROM/TO dates")
    try:
        permit = Permit(zone_id, date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None)
    except ValueError as exc:
        raise ValueError(f"permit {text!r}: {exc}") from None
    if permit.valid_from and permit.valid_to and permit.valid_to < permit.valid_from:
        raise ValueError(f"permit {text!r}: ends before it starts")
    return permit


def permit_covers(permits: Iterable[str], zone_id: str, day: date) -> bool:
    """Whether any well-formed permit covers the zone on the local date (malformed ones are rejected at load)."""
    for text in permits:
        if is_signed_permit(text):  # verified by the engine with the key (rules.permits)
            continue
        try:
            if parse_permit(text).covers(zone_id, day):
                return True
        except ValueError:
            continue
    return False


class RegistryLookup(Protocol):
    """What the engine needs of a registry: the record valid at an instant (in memory or SQLite)."""

    def lookup(self, plate_compact: str, at: datetime) -> RegistryRecord | None: ...

    def __len__(self) -> int: ...


class Registry:
    def __init__(self) -> None:
        self._by_plate: dict[str, list[RegistryRecord]] = {}

    def __len__(self) -> int:
        return sum(len(records) for records in self._by_plate.values())

    @classmethod
    def from_records(cls, records: Iterable[RegistryRecord]) -> Registry:
        """Raises ValueError on an invalid plate or overlapping validity periods of one plate."""
        registry = cls()
        for record in records:
            registry.add(record)
        return registry

    @classmethod
    def from_csv(cls, path: str | Path, *, timezone: str = "Asia/Ho_Chi_Minh", strict: bool = False) -> RegistryLoad:
        """Load a registry file. `strict` raises RegistryError listing every bad row instead of returning them."""
        path = Path(path)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is fine
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise RegistryError(f"{path}:{line}: not UTF-8 text (save the registry as UTF-8 CSV)") from None
        return cls.parse_csv(text.splitlines(), source=str(path), timezone=timezone, strict=strict)

    @classmethod
    def parse_csv(cls, lines: Sequence[str], *, source: str = "<registry>", timezone: str = "Asia/Ho_Chi_Minh",
                  strict: bool = False) -> RegistryLoad:
        tz = ZoneInfo(timezone)
        registry = cls()
        errors: list[RowError] = []
        header: list[str] | None = None
        for number, raw in enumerate(lines, start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            cells = next(csv.reader([raw]))
            if header is None:
                header = [c.strip().lower() for c in cells]
                _check_header(header, source, number)
                continue
            try:
                registry.add(record_from_row(dict(zip(header, cells, strict=False)), tz, len(cells), len(header)))
            except ValueError as exc:
                errors.append(RowError(source, number, str(exc)))
        if header is None:
            raise RegistryError(f"{source}: no header line (expected columns: {','.join(COLUMNS)})")
        if strict and errors:
            raise RegistryError(f"{len(errors)} bad registry row(s):\n" + "\n".join(str(e) for e in errors))
        return RegistryLoad(registry, tuple(errors))

    def add(self, record: RegistryRecord) -> None:
        if not plate_grammar.is_valid(record.plate):
            raise ValueError("plate is not a valid compact Vietnamese plate")
        records = self._by_plate.setdefault(record.plate, [])
        for other in records:
            if _overlap(record, other):
                raise ValueError(f"validity {_period(record)} overlaps an earlier record of the same plate "
                                 f"({_period(other)})")
        records.append(record)
        records.sort(key=lambda r: r.valid_from)

    def lookup(self, plate_compact: str, at: datetime) -> RegistryRecord | None:
        """The record of this plate valid at `at` (aware): valid_from <= at < valid_to."""
        if at.tzinfo is None:
            raise ValueError("lookup time must be timezone-aware")
        for record in self._by_plate.get(plate_compact, ()):
            if record.valid_from <= at and (record.valid_to is None or at < record.valid_to):
                return record
        return None

    def records(self, plate_compact: str) -> tuple[RegistryRecord, ...]:
        return tuple(self._by_plate.get(plate_compact, ()))

    def plates(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_plate))


def _check_header(header: list[str], source: str, line: int) -> None:
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise RegistryError(f"{source}:{line}: bad header: missing {missing}, unknown {unknown}; "
                            f"expected columns: {','.join(COLUMNS)}")


def record_from_row(row: dict[str, str], tz: tzinfo, n_cells: int = 0, n_columns: int = 0) -> RegistryRecord:
    """One record from text cells named by COLUMNS (CSV row, or a JSON object turned into text by the importer)."""
    if n_cells != n_columns:
        raise ValueError(f"expected {n_columns} cells, got {n_cells}")
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    cell = {k: v.strip() for k, v in row.items()}
    plate = plate_grammar.normalise(cell["plate"])
    if not plate_grammar.is_valid(plate):
        raise ValueError("column plate: not a valid Vietnamese plate")  # no plate text: personal data in logs
    permits = _split(cell["permits"])
    for permit in permits:
        if not is_signed_permit(permit):  # signed ones are checked against the key at event time
            parse_permit(permit)
    return RegistryRecord(
        plate=plate,
        vehicle_class=_enum(VehicleClass, cell["vehicle_class"], "vehicle_class"),
        fuel=_enum(Fuel, cell["fuel"], "fuel"),
        emission_level=_level(cell["emission_level"]),
        commercial=_bool(cell["commercial"]),
        valid_from=_instant(cell["valid_from"], tz, "valid_from"),
        valid_to=_instant(cell["valid_to"], tz, "valid_to") if cell["valid_to"] else None,
        permits=permits,
        exemptions=_split(cell["exemptions"]),
    )


_E = TypeVar("_E", VehicleClass, Fuel)


def _enum(kind: type[_E], value: str, column: str) -> _E:
    try:
        return kind(value.lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValueError(f"column {column}: {value!r} is not one of {allowed}") from None


def _level(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"column emission_level: {value!r} is not a whole number")
    return int(value)


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"column commercial: {value!r} is not true/false")


def _instant(value: str, tz: tzinfo, column: str) -> datetime:
    try:
        parsed = (datetime.combine(date.fromisoformat(value), time()) if len(value) == 10
                  else datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"column {column}: {value!r} is not an ISO date or date-time") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _overlap(a: RegistryRecord, b: RegistryRecord) -> bool:
    a_before_b = a.valid_to is not None and a.valid_to <= b.valid_from
    b_before_a = b.valid_to is not None and b.valid_to <= a.valid_from
    return not (a_before_b or b_before_a)


def _period(record: RegistryRecord) -> str:
    end = record.valid_to.isoformat() if record.valid_to else "open"
    return f"[{record.valid_from.isoformat()}, {end})"

"""The registry in SQLite: import from CSV or JSON, look up the record valid at event time.

A city register has millions of rows: the box keeps them in one SQLite file instead of memory. Import validates
every row exactly like the CSV loader (`rules.registry.record_from_row`: plate grammar, enums, ISO dates, permits,
no overlapping validity periods of one plate — re-issued plates get consecutive periods) and reports bad rows
by line (CSV) or item index (JSON) without losing the good ones.

JSON input: a list of objects, or ``{"records": [...]}``, with the CSV column names as keys. Values may be JSON
types: ``null`` for empty, booleans, numbers, and lists for ``permits`` / ``exemptions``.

Instants are stored twice: as microseconds since the epoch (UTC) for the range query, and as the original ISO
text so a record reads back with the offset it was imported with. The file is opened read-only for lookups when
the box runs (`RegistryDb.open(path, readonly=True)`); one connection is shared behind a lock (SQLite
connections are not thread-safe, and lookups are microseconds).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rules.registry import COLUMNS, Registry, RegistryError, RegistryLoad, RowError, record_from_row
from rules.types import Fuel, RegistryRecord, VehicleClass

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    plate TEXT NOT NULL, valid_from_us INTEGER NOT NULL, valid_to_us INTEGER,
    valid_from TEXT NOT NULL, valid_to TEXT, vehicle_class TEXT NOT NULL, fuel TEXT NOT NULL,
    emission_level INTEGER, commercial INTEGER NOT NULL, permits TEXT NOT NULL, exemptions TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_plate ON records (plate, valid_from_us);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _micros(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def parse_json(text: str, *, source: str = "<registry.json>", timezone: str = "Asia/Ho_Chi_Minh") -> RegistryLoad:
    """Rows of a JSON registry; bad items are reported as `source:#index`, good ones kept."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RegistryError(f"{source}: not JSON ({exc})") from None
    items = data.get("records") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RegistryError(f"{source}: expected a list of records or {{\"records\": [...]}}")
    tz = ZoneInfo(timezone)
    registry = Registry()
    errors: list[RowError] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError("a record must be a JSON object")
            unknown = sorted(set(item) - set(COLUMNS))
            if unknown:
                raise ValueError(f"unknown field(s) {unknown}")
            row = {c: _cell(item.get(c)) for c in COLUMNS}
            registry.add(record_from_row(row, tz))
        except ValueError as exc:
            errors.append(RowError(source, index, str(exc)))
    return RegistryLoad(registry, tuple(errors))


def load_file(path: Path, *, timezone: str = "Asia/Ho_Chi_Minh") -> RegistryLoad:
    """A CSV or JSON registry file, validated into memory (also the first step of an import)."""
    if path.suffix.lower() == ".json":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise RegistryError(f"{path}: not UTF-8 text (save the registry as UTF-8 JSON)") from None
        return parse_json(text, source=str(path), timezone=timezone)
    return Registry.from_csv(path, timezone=timezone)


@dataclass(frozen=True)
class ImportReport:
    imported: int
    errors: tuple[RowError, ...]
    total: int  # records in the database after the import


class RegistryDb:
    """Registry records in SQLite; satisfies `rules.registry.RegistryLookup`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> RegistryDb:
        path = Path(path)
        if readonly:
            if not path.is_file():
                raise RegistryError(f"{path}: registry database not found (create it with `lez-anpr registry import`)")
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False)
            connection.executescript(_SCHEMA)
        try:
            connection.execute("SELECT 1 FROM records LIMIT 1")
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise RegistryError(f"{path}: not a registry database ({exc})") from None
        return cls(connection, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM records").fetchone()
        return int(count)

    def import_registry(self, load: RegistryLoad, *, replace: bool = False, source: str = "") -> ImportReport:
        """Write the good records of `load` (all or nothing). Overlaps with rows already stored are refused.

        `replace` empties the table first (a full export from the police). The digest of the imported records is
        kept in `meta` (`registry_sha256`) so evidence can name the registry version a decision used."""
        records = [r for plate in load.registry.plates() for r in load.registry.records(plate)]
        errors = list(load.errors)
        with self._lock, self._db:
            if replace:
                self._db.execute("DELETE FROM records")
            kept = []
            for record in records:
                clash = self._overlapping(record)
                if clash:
                    errors.append(RowError(source or "<import>", 0, f"a plate's validity {clash} overlaps a stored "
                                                                     f"record; use --replace for a full export"))
                    continue
                kept.append(record)
            self._db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", [_row(r) for r in kept])
            digest = self._digest()
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('registry_sha256', ?)", (digest,))
            (total,) = self._db.execute("SELECT COUNT(*) FROM records").fetchone()
        return ImportReport(len(kept), tuple(errors), int(total))

    def _overlapping(self, record: RegistryRecord) -> str:
        start = _micros(record.valid_from)
        end = _micros(record.valid_to) if record.valid_to else None
        row = self._db.execute(
            "SELECT valid_from, valid_to FROM records WHERE plate = ? AND (valid_to_us IS NULL OR valid_to_us > ?) "
            "AND (? IS NULL OR valid_from_us < ?) LIMIT 1", (record.plate, start, end, end)).fetchone()
        return f"[{row[0]}, {row[1] or 'open'})" if row else ""

    def _digest(self) -> str:
        digest = hashlib.sha256()
        for row in self._db.execute("SELECT * FROM records ORDER BY plate, valid_from_us"):
            digest.update(json.dumps(row, separators=(",", ":")).encode())
        return digest.hexdigest()

    def registry_sha256(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'registry_sha256'").fetchone()
        return str(row[0]) if row else ""

    def lookup(self, plate_compact: str, at: datetime) -> RegistryRecord | None:
        """The record valid at `at` (aware): valid_from <= at < valid_to."""
        if at.tzinfo is None:
            raise ValueError("lookup time must be timezone-aware")
        t = _micros(at)
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM records WHERE plate = ? AND valid_from_us <= ? AND (valid_to_us IS NULL OR ? < "
                "valid_to_us) ORDER BY valid_from_us DESC LIMIT 1", (plate_compact, t, t)).fetchone()
        return _record(row) if row else None

    def records(self, plate_compact: str) -> tuple[RegistryRecord, ...]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM records WHERE plate = ? ORDER BY valid_from_us",
                                    (plate_compact,)).fetchall()
        return tuple(_record(r) for r in rows)

    def __iter__(self) -> Iterator[RegistryRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM records ORDER BY plate, valid_from_us").fetchall()
        return iter([_record(r) for r in rows])


def _row(r: RegistryRecord) -> tuple[Any, ...]:
    return (r.plate, _micros(r.valid_from), _micros(r.valid_to) if r.valid_to else None, r.valid_from.isoformat(),
            r.valid_to.isoformat() if r.valid_to else None, r.vehicle_class.value, r.fuel.value, r.emission_level,
            int(r.commercial), json.dumps(list(r.permits)), json.dumps(list(r.exemptions)))


def _record(row: tuple[Any, ...]) -> RegistryRecord:
    plate, _, _, valid_from, valid_to, vehicle_class, fuel, level, commercial, permits, exemptions = row
    return RegistryRecord(plate=plate, vehicle_class=VehicleClass(vehicle_class), fuel=Fuel(fuel),
                          emission_level=level, commercial=bool(commercial),
                          valid_from=datetime.fromisoformat(valid_from),
                          valid_to=datetime.fromisoformat(valid_to) if valid_to else None,
                          permits=tuple(json.loads(permits)), exemptions=tuple(json.loads(exemptions)))


def open_registry(
    path: Path, *, timezone: str = "Asia/Ho_Chi_Minh"
) -> tuple[Registry | RegistryDb, tuple[RowError, ...]]:
    """The registry a rules file names: SQLite (read-only) by suffix, else CSV/JSON loaded into memory."""
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return RegistryDb.open(path, readonly=True), ()
    load = load_file(path, timezone=timezone)
    return load.registry, load.errors


def import_files(db_path: Path, files: Iterable[Path], *, replace: bool = False,
                 timezone: str = "Asia/Ho_Chi_Minh") -> ImportReport:
    """`lez-anpr registry import`: every file validated, then written; the report counts what went in."""
    db = RegistryDb.open(db_path)
    try:
        imported, total = 0, 0
        errors: list[RowError] = []
        for index, path in enumerate(files):
            report = db.import_registry(load_file(path, timezone=timezone), replace=replace and index == 0,
                                        source=str(path))
            imported, total = imported + report.imported, report.total
            errors.extend(report.errors)
        return ImportReport(imported, tuple(errors), total)
    finally:
        db.close()

"""Operator sub-commands of the rule and evidence side: `evidence verify|purge`, `registry import|lookup`,
`permit issue|verify`. Registered on the `lez-anpr` parser by `add_parsers`; each failure a person can cause is one
line on stderr and a non-zero exit (0 ok, 1 check failed, 2 bad input/config, 3 missing file).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import offline
from pipeline.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_INPUT, EXIT_OK

if TYPE_CHECKING:
    from sinks.evidence import EvidenceRef

COMMANDS = frozenset({"evidence", "registry", "permit"})


class DataCommandError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ev = sub.add_parser("evidence", help="check or purge the evidence store")
    ev_sub = ev.add_subparsers(dest="evidence_command", required=True)
    verify = ev_sub.add_parser("verify", help="re-hash every evidence file; exit 1 on any mismatch")
    verify.add_argument("dir", nargs="?", type=Path, help="evidence folder (default: STATE/evidence)")
    verify.add_argument("--messages", type=Path, action="append", default=[],
                        help="JSONL of messages (e.g. a consume --export): also check every reference they make")
    purge = ev_sub.add_parser("purge", help="delete evidence older than the retention period")
    purge.add_argument("dir", nargs="?", type=Path, help="evidence folder (default: STATE/evidence)")
    group = purge.add_mutually_exclusive_group(required=True)
    group.add_argument("--days", type=_non_negative_days, help="retention in days")
    group.add_argument("--config", type=Path, help="take storage.evidence_retention_days from this box config")

    reg = sub.add_parser("registry", help="import the vehicle registry into SQLite, or look a plate up")
    reg_sub = reg.add_subparsers(dest="registry_command", required=True)
    imp = reg_sub.add_parser("import", help="validate CSV/JSON registry files and write them into a SQLite file")
    imp.add_argument("files", nargs="+", type=Path)
    imp.add_argument("--db", required=True, type=Path)
    imp.add_argument("--replace", action="store_true", help="empty the database first (a full export)")
    imp.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="zone of naive dates in the files")
    look = reg_sub.add_parser("lookup", help="the record of a plate valid at an instant (prints plate text)")
    look.add_argument("plate")
    look.add_argument("--db", required=True, type=Path)
    look.add_argument("--at", required=True, help="ISO instant with offset, e.g. 2026-07-03T19:30:00+07:00")

    permit = sub.add_parser("permit", help="issue or verify a signed permit payload (key: $LEZ_PERMIT_KEY)")
    p_sub = permit.add_subparsers(dest="permit_command", required=True)
    issue = p_sub.add_parser("issue", help="print the signed QR payload of a permit")
    issue.add_argument("--id", required=True, dest="permit_id")
    issue.add_argument("--plate", required=True)
    issue.add_argument("--zone", required=True, action="append", help="zone id, or * (repeatable)")
    issue.add_argument("--from", required=True, dest="valid_from", help="first local date, YYYY-MM-DD")
    issue.add_argument("--to", required=True, dest="valid_to", help="last local date (inclusive), YYYY-MM-DD")
    issue.add_argument("--qr", type=Path, help="also write the payload as a QR code image (PNG)")
    check = p_sub.add_parser("verify", help="check a payload's signature (and plate/zone/date when given)")
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("payload", nargs="?")
    source.add_argument("--image", type=Path, help="read the payload from a photo of the permit's QR code")
    check.add_argument("--plate")
    check.add_argument("--zone")
    check.add_argument("--on", help="local date to check validity on, YYYY-MM-DD (default: today in Hanoi)")


def run(args: argparse.Namespace) -> int:
    handlers = {"evidence": _evidence, "registry": _registry, "permit": _permit}
    try:
        return handlers[args.command](args)
    except DataCommandError as exc:
        print(f"lez-anpr: {exc}", file=sys.stderr)
        return exc.exit_code


def _evidence_dir(value: Path | None) -> Path:
    folder = value if value is not None else offline.state_dir() / "evidence"
    if not folder.is_dir():
        raise DataCommandError(f"evidence folder not found: {folder}", EXIT_INPUT)
    return folder


def _evidence(args: argparse.Namespace) -> int:
    from sinks.evidence import EvidenceStore, verify_refs, verify_report

    folder = _evidence_dir(args.dir)
    if args.evidence_command == "purge":
        days = args.days if args.days is not None else _retention_days(args.config)
        deleted = EvidenceStore(folder).purge_older_than(days)
        print(f"{folder}: deleted {deleted} evidence file(s) older than {days:g} day(s)")
        return EXIT_OK
    checked, mismatches = verify_report(folder)
    references = 0
    for path in args.messages:
        refs = _refs_in(path)
        references += len(refs)
        mismatches += verify_refs(folder, refs)
    for m in mismatches:
        print(f"MISMATCH {m.path}: {m.reason} (expected {m.expected_sha256 or '-'}, got {m.actual_sha256 or '-'})")
    print(f"{folder}: {checked} file(s) checked, {references} reference(s) checked, {len(mismatches)} mismatch(es)")
    return EXIT_FAILED if mismatches else EXIT_OK


def _retention_days(config: Path) -> float:
    from pipeline.config import AppConfig
    from pipeline.yaml_config import ConfigError, load_model

    try:
        return float(load_model(AppConfig, config).storage.evidence_retention_days)
    except ConfigError as exc:
        raise DataCommandError("invalid configuration:\n  " + "\n  ".join(exc.lines), EXIT_CONFIG) from None


def _refs_in(path: Path) -> list[EvidenceRef]:
    from sinks.evidence import EvidenceRef

    if not path.is_file():
        raise DataCommandError(f"messages file not found: {path}", EXIT_INPUT)
    refs: list[EvidenceRef] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items = json.loads(line).get("evidence", [])
            refs += [EvidenceRef(e["kind"], e["sha256"], e["path"], int(e["bytes"])) for e in items]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataCommandError(f"{path}:{number}: not a message with evidence references ({exc})",
                                   EXIT_INPUT) from None
    return refs


def _registry(args: argparse.Namespace) -> int:
    from rules import plate_grammar
    from rules.registry import RegistryError
    from rules.registry_db import RegistryDb, import_files

    try:
        if args.registry_command == "import":
            for path in args.files:
                if not path.is_file():
                    raise DataCommandError(f"registry file not found: {path}", EXIT_INPUT)
            report = import_files(args.db, args.files, replace=args.replace, timezone=args.timezone)
            for error in report.errors:
                print(f"skipped {error}", file=sys.stderr)
            print(f"{args.db}: imported {report.imported} record(s), skipped {len(report.errors)}, "
                  f"{report.total} in the database")
            return EXIT_FAILED if report.errors else EXIT_OK
        at = _instant(args.at)
        db = RegistryDb.open(args.db, readonly=True)
        try:
            record = db.lookup(plate_grammar.normalise(args.plate), at)
        finally:
            db.close()
    except RegistryError as exc:
        raise DataCommandError(f"invalid registry: {exc}", EXIT_CONFIG) from None
    if record is None:
        print(json.dumps({"found": False}))
        return EXIT_FAILED
    print(json.dumps({"found": True, "vehicle_class": record.vehicle_class.value, "fuel": record.fuel.value,
                      "emission_level": record.emission_level, "commercial": record.commercial,
                      "valid_from": record.valid_from.isoformat(),
                      "valid_to": record.valid_to.isoformat() if record.valid_to else None,
                      "permits": list(record.permits), "exemptions": list(record.exemptions)}, sort_keys=True))
    return EXIT_OK


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise DataCommandError(f"--at {text!r} is not an ISO date-time", EXIT_CONFIG) from None
    if at.tzinfo is None:
        raise DataCommandError("--at needs a UTC offset, e.g. 2026-07-03T19:30:00+07:00", EXIT_CONFIG)
    return at


def _date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataCommandError(f"{flag} {text!r} is not a date YYYY-MM-DD", EXIT_CONFIG) from None


def _permit(args: argparse.Namespace) -> int:
    from rules import plate_grammar
    from rules.permits import (
        PermitCheck,
        PermitKeyError,
        PermitStatus,
        SignedPermit,
        check_permit,
        key_from_env,
        sign_permit,
        verify_signature,
    )

    try:
        key = key_from_env()
    except PermitKeyError as exc:
        raise DataCommandError(str(exc), EXIT_CONFIG) from None
    if args.permit_command == "issue":
        plate = plate_grammar.normalise(args.plate)
        if not plate_grammar.is_valid(plate):
            raise DataCommandError("--plate is not a valid Vietnamese plate", EXIT_CONFIG)
        try:
            permit = SignedPermit(args.permit_id, plate, tuple(args.zone), _date(args.valid_from, "--from"),
                                  _date(args.valid_to, "--to"))
        except ValueError as exc:
            raise DataCommandError(str(exc), EXIT_CONFIG) from None
        payload = sign_permit(permit, key)
        if args.qr is not None:
            _write_qr(payload, args.qr)
        print(payload)
        return EXIT_OK
    payload = args.payload if args.image is None else _payload_from_image(args.image)
    if args.plate or args.zone:
        if not (args.plate and args.zone):
            raise DataCommandError("give --plate and --zone together (or neither: signature and dates only)",
                                   EXIT_CONFIG)
        result = check_permit(payload, key, plate=plate_grammar.normalise(args.plate), zone_id=args.zone,
                              on=_check_date(args.on))
    else:
        result = verify_signature(payload, key)
        on = _check_date(args.on)
        # A good signature on a permit outside its dates is not a valid permit: say which way it is out.
        if result.permit is not None and result.valid and on > result.permit.valid_to:
            result = PermitCheck(PermitStatus.EXPIRED, result.permit)
        elif result.permit is not None and result.valid and on < result.permit.valid_from:
            result = PermitCheck(PermitStatus.NOT_YET_VALID, result.permit)
    permit_info = None
    if result.permit is not None:
        p = result.permit
        permit_info = {"id": p.permit_id, "zones": list(p.zones), "from": p.valid_from.isoformat(),
                       "to": p.valid_to.isoformat()}
    print(json.dumps({"status": result.status.value, "permit": permit_info}, sort_keys=True))
    return EXIT_OK if result.valid else EXIT_FAILED


def _non_negative_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more days, got {text}")
    return days


def _check_date(text: str | None) -> date:
    """`--on`, or today in Hanoi: a permit is checked against the day it is shown unless told otherwise."""
    if text:
        return _date(text, "--on")
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


def _write_qr(payload: str, path: Path) -> None:
    import cv2

    from pipeline.permit_qr import render_qr

    if not cv2.imwrite(str(path), render_qr(payload)):
        raise DataCommandError(f"cannot write QR image {path}", EXIT_INPUT)


def _payload_from_image(path: Path) -> str:
    from pipeline.permit_qr import read_permit_payloads
    from pipeline.stills import StillError, load_still

    try:
        image = load_still(path)
    except StillError as exc:
        raise DataCommandError(f"image {path}: {exc}", EXIT_INPUT) from None
    payloads = read_permit_payloads(image)
    if not payloads:
        raise DataCommandError(f"no permit QR code found in {path}", EXIT_INPUT)
    return payloads[0]

"""Signed permits: issue, verify, and refuse tampered, foreign, expired and malformed payloads."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.permits import (
    PREFIX,
    PermitKeyError,
    PermitStatus,
    SignedPermit,
    check_permit,
    key_from_env,
    key_id,
    sign_permit,
    verify_signature,
)

KEY = b"permit-office-secret-0001"
OTHER_KEY = b"some-other-secret-key-0002"
PERMIT = SignedPermit("P-2026-0001", "30A12345", ("hk-area1",), date(2026, 7, 1), date(2026, 7, 31))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _reforged(payload: str, **changes: object) -> str:
    """The same signature over changed claims: what someone editing a QR payload by hand produces."""
    prefix, body, signature = payload.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return ".".join((prefix, _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()), signature))


def test_issued_payload_verifies_and_is_deterministic() -> None:
    payload = sign_permit(PERMIT, KEY)
    assert payload.startswith(PREFIX + ".") and payload == sign_permit(PERMIT, KEY)
    assert payload.isascii() and " " not in payload  # fits a QR code's alphanumeric-ish payload
    check = verify_signature(payload, KEY)
    assert check.status is PermitStatus.VALID and check.permit == PERMIT


@pytest.mark.parametrize(("on", "plate", "zone", "status"), [
    (date(2026, 7, 1), "30A12345", "hk-area1", PermitStatus.VALID),  # first day inclusive
    (date(2026, 7, 31), "30A12345", "hk-area1", PermitStatus.VALID),  # last day inclusive
    (date(2026, 6, 30), "30A12345", "hk-area1", PermitStatus.NOT_YET_VALID),
    (date(2026, 8, 1), "30A12345", "hk-area1", PermitStatus.EXPIRED),
    (date(2026, 7, 10), "30A12346", "hk-area1", PermitStatus.WRONG_PLATE),
    (date(2026, 7, 10), "30A12345", "ring1-pilot", PermitStatus.WRONG_ZONE),
])
def test_plate_zone_and_validity_period(on: date, plate: str, zone: str, status: PermitStatus) -> None:
    assert check_permit(sign_permit(PERMIT, KEY), KEY, plate=plate, zone_id=zone, on=on).status is status


def test_wildcard_zone_covers_every_zone() -> None:
    payload = sign_permit(SignedPermit("P-2", "30A12345", ("*",), date(2026, 1, 1), date(2026, 12, 31)), KEY)
    assert check_permit(payload, KEY, plate="30A12345", zone_id="anything", on=date(2026, 5, 5)).valid


@pytest.mark.parametrize("changes", [{"to": "2027-12-31"}, {"plate": "30A99999"}, {"zones": ["*"]}, {"id": "P-X"}])
def test_edited_claims_are_rejected(changes: dict[str, object]) -> None:
    forged = _reforged(sign_permit(PERMIT, KEY), **changes)
    check = check_permit(forged, KEY, plate="30A12345", zone_id="hk-area1", on=date(2026, 7, 10))
    assert check.status is PermitStatus.BAD_SIGNATURE and check.permit is None


def test_other_key_is_unknown_and_a_key_id_cannot_be_borrowed() -> None:
    foreign = sign_permit(PERMIT, OTHER_KEY)
    assert verify_signature(foreign, KEY).status is PermitStatus.UNKNOWN_KEY
    # Claiming our key id does not help: the MAC still does not match.
    assert verify_signature(_reforged(foreign, kid=key_id(KEY)), KEY).status is PermitStatus.BAD_SIGNATURE


@pytest.mark.parametrize("payload", ["", "LEZP1", "LEZP1.abc", "LEZP2.a.b", "LEZP1.!!!.???", "LEZP1.e30.AAAA",
                                     "LEZP1." + _b64(b"[1,2]") + ".AAAA", "not a permit at all"])
def test_malformed_payloads(payload: str) -> None:
    assert verify_signature(payload, KEY).status in (PermitStatus.MALFORMED, PermitStatus.UNKNOWN_KEY)
    assert not check_permit(payload, KEY, plate="30A12345", zone_id="hk-area1", on=date(2026, 7, 1)).valid


def test_no_key_means_cannot_check() -> None:
    assert verify_signature(sign_permit(PERMIT, KEY), None).status is PermitStatus.NO_KEY


def test_key_comes_from_the_environment() -> None:
    assert key_from_env({"LEZ_PERMIT_KEY": KEY.decode()}) == KEY
    with pytest.raises(PermitKeyError, match="not set"):
        key_from_env({})
    with pytest.raises(PermitKeyError, match="too short"):
        key_from_env({"LEZ_PERMIT_KEY": "short"})


def test_permit_needs_sane_fields() -> None:
    with pytest.raises(ValueError, match="end before"):
        SignedPermit("P", "30A12345", ("z",), date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(ValueError, match="at least one zone"):
        SignedPermit("P", "30A12345", (), date(2026, 1, 1), date(2026, 1, 1))


def test_describe_names_the_permit_not_the_plate() -> None:
    check = check_permit(sign_permit(PERMIT, KEY), KEY, plate="30A12345", zone_id="hk-area1", on=date(2026, 9, 1))
    assert check.describe() == "permit P-2026-0001: expired" and "30A12345" not in check.describe()


@given(st.integers(min_value=0), st.characters(codec="ascii", categories=["L", "N"]))
def test_any_one_character_edit_never_yields_a_different_valid_permit(position: int, char: str) -> None:
    payload = sign_permit(PERMIT, KEY)
    index = position % len(payload)
    edited = payload[:index] + char + payload[index + 1:]
    check = verify_signature(edited, KEY)
    # base64's last character has spare bits: an edit there may decode to the very same bytes — still our permit.
    assert check.status is not PermitStatus.VALID or check.permit == PERMIT


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)), st.integers(min_value=0, max_value=800))
def test_validity_holds_exactly_between_the_inclusive_dates(start: date, length: int) -> None:
    permit = SignedPermit("P", "29AA12345", ("z",), start, start + timedelta(days=length))
    payload = sign_permit(permit, KEY)
    for day, expected in ((start - timedelta(days=1), PermitStatus.NOT_YET_VALID), (start, PermitStatus.VALID),
                          (permit.valid_to, PermitStatus.VALID),
                          (permit.valid_to + timedelta(days=1), PermitStatus.EXPIRED)):
        assert check_permit(payload, KEY, plate="29AA12345", zone_id="z", on=day).status is expected

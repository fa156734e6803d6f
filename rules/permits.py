"""Signed LEZ permits: the payload a QR code on the windscreen (or a registry row) carries, verified offline.

Format (ASCII, QR-friendly, no padding): ``LEZP1.<base64url(canonical JSON)>.<base64url(HMAC-SHA256)>``.
The JSON is ``{"v":1,"id":…,"plate":…,"zones":[…],"from":"YYYY-MM-DD","to":"YYYY-MM-DD","kid":…}`` with sorted keys
and no spaces, so the same permit always has the same bytes. `from`/`to` are local calendar dates, both inclusive,
like every date in the rules. `zones` may be ``["*"]`` (every zone). `kid` is the first 8 hex digits of
sha256(key): a verifier holding another key says "unknown key" instead of "tampered".

Why HMAC-SHA256 (stdlib) and not a public-key signature: `cryptography` is not among the box's dependencies, and
the issuer (the city's permit office) and the verifier (the gateway boxes) are run by the same authority, so a
shared secret is enough. Its cost: every box holding the key could also issue permits — keep it in the box's
environment (`LEZ_PERMIT_KEY`), never in a config file, and rotate it by re-issuing. Comparison is constant time.

Pure: no clock (the caller passes the local date of the event), no environment read except in `key_from_env`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

PREFIX = "LEZP1"
KEY_ENV = "LEZ_PERMIT_KEY"
MIN_KEY_BYTES = 16


class PermitKeyError(ValueError):
    """No usable key: the environment variable is missing or too short."""


class PermitStatus(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"  # tampered, or forged with another key of the same id
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    WRONG_PLATE = "wrong_plate"
    WRONG_ZONE = "wrong_zone"
    NO_KEY = "no_key"  # the box has no key configured: the permit cannot be checked


@dataclass(frozen=True)
class SignedPermit:
    permit_id: str
    plate: str
    zones: tuple[str, ...]
    valid_from: date
    valid_to: date  # inclusive

    def __post_init__(self) -> None:
        if not self.permit_id or not self.plate or not self.zones:
            raise ValueError("a permit needs an id, a plate and at least one zone")
        if self.valid_to < self.valid_from:
            raise ValueError("a permit cannot end before it starts")


@dataclass(frozen=True)
class PermitCheck:
    """The outcome of checking one payload. `permit` is set once the signature held (even if expired)."""

    status: PermitStatus
    permit: SignedPermit | None = None

    @property
    def valid(self) -> bool:
        return self.status is PermitStatus.VALID

    def describe(self) -> str:
        """For `Decision.reasons`: the permit id, never the plate (personal data)."""
        name = f"permit {self.permit.permit_id}" if self.permit else "permit"
        return f"{name}: {self.status.value.replace('_', ' ')}"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def key_from_env(environ: dict[str, str] | None = None) -> bytes:
    """The permit key from `LEZ_PERMIT_KEY` (UTF-8 text, at least 16 bytes). Raises PermitKeyError."""
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    if not value:
        raise PermitKeyError(f"{KEY_ENV} is not set (the permit signing key comes only from the environment)")
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise PermitKeyError(f"{KEY_ENV} is too short: use at least {MIN_KEY_BYTES} bytes of random text")
    return key


def is_signed_permit(text: str) -> bool:
    return text.startswith(PREFIX + ".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, f"{PREFIX}.{body}".encode("ascii"), hashlib.sha256).digest()


def sign_permit(permit: SignedPermit, key: bytes) -> str:
    """The QR payload of a permit (deterministic: same permit and key → same text)."""
    claims = {"v": 1, "id": permit.permit_id, "plate": permit.plate, "zones": list(permit.zones),
              "from": permit.valid_from.isoformat(), "to": permit.valid_to.isoformat(), "kid": key_id(key)}
    body = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{PREFIX}.{body}.{_b64(_mac(key, body))}"


def verify_signature(payload: str, key: bytes | None) -> PermitCheck:
    """Signature and shape only (no plate, zone or date check)."""
    parts = payload.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return PermitCheck(PermitStatus.MALFORMED)
    _, body, signature = parts
    try:
        claims = json.loads(_unb64(body))
        mac = _unb64(signature)
    except (ValueError, binascii.Error):
        return PermitCheck(PermitStatus.MALFORMED)
    if key is None:
        return PermitCheck(PermitStatus.NO_KEY)
    if not isinstance(claims, dict):
        return PermitCheck(PermitStatus.MALFORMED)
    if claims.get("kid") != key_id(key):
        return PermitCheck(PermitStatus.UNKNOWN_KEY)
    if not hmac.compare_digest(mac, _mac(key, body)):
        return PermitCheck(PermitStatus.BAD_SIGNATURE)
    permit = _permit_from_claims(claims)
    return PermitCheck(PermitStatus.VALID, permit) if permit else PermitCheck(PermitStatus.MALFORMED)


def _permit_from_claims(claims: dict[str, Any]) -> SignedPermit | None:
    try:
        zones = claims["zones"]
        if claims.get("v") != 1 or not isinstance(zones, list):
            return None
        return SignedPermit(str(claims["id"]), str(claims["plate"]), tuple(str(z) for z in zones),
                            date.fromisoformat(claims["from"]), date.fromisoformat(claims["to"]))
    except (KeyError, TypeError, ValueError):
        return None


def check_permit(payload: str, key: bytes | None, *, plate: str, zone_id: str, on: date) -> PermitCheck:
    """Full check for one passage: signature, then plate, zone and the local date of the event."""
    check = verify_signature(payload, key)
    permit = check.permit
    if not check.valid or permit is None:
        return check
    if permit.plate != plate:
        return PermitCheck(PermitStatus.WRONG_PLATE, permit)
    if "*" not in permit.zones and zone_id not in permit.zones:
        return PermitCheck(PermitStatus.WRONG_ZONE, permit)
    if on < permit.valid_from:
        return PermitCheck(PermitStatus.NOT_YET_VALID, permit)
    if on > permit.valid_to:
        return PermitCheck(PermitStatus.EXPIRED, permit)
    return check


def check_permits(payloads: Sequence[str], key: bytes | None, *, plate: str, zone_id: str,
                  on: date) -> tuple[PermitCheck, ...]:
    return tuple(check_permit(p, key, plate=plate, zone_id=zone_id, on=on) for p in payloads)

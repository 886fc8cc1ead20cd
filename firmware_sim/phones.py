"""The simulated app's key store: the phones file written by the store server's demo seeding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_sim.eddystone import IDENTITY_KEY_LENGTH, MAX_ROTATION_EXPONENT

# The protocol's default: a new EID every 1,024 s (docs/protocol.md).
DEFAULT_ROTATION_EXPONENT = 10


class PhonesFileError(ValueError):
    """A phones file that cannot be used."""


@dataclass(frozen=True)
class PhoneKey:
    """The EID identity of one phone, as issued by the server at opt-in."""

    identity_key: bytes
    rotation_exponent: int


def _phone_entry(entry: Any, where: str) -> tuple[str, PhoneKey]:
    if not isinstance(entry, dict):
        raise PhonesFileError(f"{where}: must be an object")
    person = entry.get("person")
    if not isinstance(person, str) or not person:
        raise PhonesFileError(f"{where}: 'person' must be a non-empty string")
    try:
        identity_key = bytes.fromhex(entry.get("identity_key", ""))
    except (TypeError, ValueError) as exc:
        raise PhonesFileError(f"{where}: 'identity_key' must be hex") from exc
    if len(identity_key) != IDENTITY_KEY_LENGTH:
        raise PhonesFileError(
            f"{where}: 'identity_key' must be {IDENTITY_KEY_LENGTH * 2} hex chars"
        )
    exponent = entry.get("rotation_exponent", DEFAULT_ROTATION_EXPONENT)
    if isinstance(exponent, bool) or not isinstance(exponent, int):
        raise PhonesFileError(f"{where}: 'rotation_exponent' must be an integer")
    if not 0 <= exponent <= MAX_ROTATION_EXPONENT:
        raise PhonesFileError(f"{where}: 'rotation_exponent' must be 0..{MAX_ROTATION_EXPONENT}")
    return person, PhoneKey(identity_key, exponent)


def phones_from_dict(data: Any) -> dict[str, PhoneKey]:
    """Parse a phones document `{"phones": [...]}` into keys by phone name."""
    if not isinstance(data, dict) or not isinstance(data.get("phones"), list):
        raise PhonesFileError("phones file: expected an object with a 'phones' list")
    return dict(_phone_entry(e, f"phones[{i}]") for i, e in enumerate(data["phones"]))


def load_phones_file(path: Path) -> dict[str, PhoneKey]:
    """Read a phones file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PhonesFileError(f"cannot read phones file {path}: {exc}") from exc
    return phones_from_dict(data)

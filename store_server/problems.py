"""The one domain error: what the caller asked for cannot be done, and why.

Domain packages raise it; the web layer turns it into the one JSON error shape with the HTTP
status of its kind (web/errors.py), so no domain module knows about HTTP.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Refusal(StrEnum):
    """Why a request cannot be done, independent of the protocol that carried it."""

    INVALID = "invalid"  # the input is malformed or out of range
    UNAUTHORIZED = "unauthorized"  # no valid credentials
    FORBIDDEN = "forbidden"  # valid credentials, not for this
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the current state forbids it
    GONE = "gone"  # it existed and is over (an expired coupon)
    TOO_MANY = "too_many"  # a rate limit
    UNAVAILABLE = "unavailable"  # a dependency is not configured or not reachable


class DomainError(Exception):
    """A refusal with a stable machine code and a message for people."""

    def __init__(self, refusal: Refusal, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.code = code
        self.message = message
        self.details = details

"""What the domain tells the outside world happened: events addressed to an audience.

The domain returns these and never emits them; `web.realtime` is the only place that turns an
audience into a Socket.IO room and sends the event, from a background task after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple


class AudienceKind(StrEnum):
    """Who hears an event."""

    STAFF = "staff"  # every staff tablet of a store (managers too)
    MANAGERS = "managers"  # a store's managers: escalations
    SHOPPER = "shopper"  # one shopper's pages


@dataclass(frozen=True)
class Audience:
    """The people one event is for: a store's staff or managers, or one shopper."""

    kind: AudienceKind
    id: int

    @classmethod
    def staff(cls, store_id: int) -> Audience:
        """Every staff tablet of a store."""
        return cls(AudienceKind.STAFF, store_id)

    @classmethod
    def managers(cls, store_id: int) -> Audience:
        """A store's managers."""
        return cls(AudienceKind.MANAGERS, store_id)

    @classmethod
    def shopper(cls, shopper_id: int) -> Audience:
        """One shopper's connected pages."""
        return cls(AudienceKind.SHOPPER, shopper_id)


class Event(NamedTuple):
    """One thing that happened, with the JSON payload its audience receives."""

    name: str
    payload: dict[str, Any]
    audience: Audience

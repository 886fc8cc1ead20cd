"""A shopper's inbox: every offer sent to her, kept whatever the connection, newest first.

An offer decided while her page was closed is not lost: `queue_delivery(inbox=True)` keeps the
message on its `deliveries` row, and the page lists it when it opens (and on every reconnect).
Entries are the message rows themselves, one per message id, so no reload or reconnect can
duplicate one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.db.models import Delivery

# An inbox is a few days of offers, not an archive: the newest this many.
INBOX_LIMIT = 50


@dataclass(frozen=True)
class InboxEntry:
    """One kept message: the payload the live event carried, and whether she has seen it."""

    store_id: int
    content: dict[str, Any]
    sent_at: float
    seen: bool


def inbox(session: Session, shopper_id: int, now: float) -> list[InboxEntry]:
    """Her kept messages still worth something at `now`, newest first."""
    rows = session.execute(
        select(Delivery.store_id, Delivery.notification, Delivery.created_at, Delivery.seen_at)
        .where(
            Delivery.shopper_id == shopper_id, Delivery.inbox, Delivery.notification.is_not(None)
        )
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(INBOX_LIMIT)
    ).all()
    return [
        InboxEntry(store_id, content, created_at, seen_at is not None)
        for store_id, content, created_at, seen_at in rows
        if content is not None and _still_valid(content, now)
    ]


def _still_valid(content: dict[str, Any], now: float) -> bool:
    expires_at = content.get("expires_at")
    return not isinstance(expires_at, int | float) or expires_at > now

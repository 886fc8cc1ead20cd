"""A shopper's key-fob and car tags: heard at a door or bay, a tag announces its shopper."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.models import Beacon, CustomerTag
from store_server.presence.readings import forget_readings
from store_server.problems import DomainError, Refusal


def register_tag(
    session: Session, shopper_id: int, kind: str, identifier: str, label: str, now: float
) -> CustomerTag:
    """Register a tag by its normalised id (CONFLICT `tag_taken` if anyone has it already).

    A store beacon's id is refused (INVALID `tag_is_store_beacon`, whichever store owns it):
    every gateway hears that beacon all day, so the tag would put its shopper in the store.
    """
    beacon = session.scalar(select(Beacon.id).where(Beacon.identifier == identifier).limit(1))
    if beacon is not None:
        raise DomainError(
            Refusal.INVALID, "tag_is_store_beacon", "this id is a store beacon's, not a tag's"
        )
    tag = CustomerTag(
        shopper_id=shopper_id, kind=kind, identifier=identifier, label=label, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(tag)
    except IntegrityError as exc:
        raise DomainError(Refusal.CONFLICT, "tag_taken", "this tag is already registered") from exc
    return tag


def remove_tag(session: Session, shopper_id: int, tag_id: int) -> None:
    """Forget one of the shopper's tags and every sighting of it (NOT_FOUND `unknown_tag`)."""
    mine = session.scalar(
        select(CustomerTag.id).where(CustomerTag.id == tag_id, CustomerTag.shopper_id == shopper_id)
    )
    if mine is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_tag", f"you have no tag {tag_id}")
    forget_readings(session, tag_ids=[tag_id])  # before the row they name (readings.py)
    session.execute(delete(CustomerTag).where(CustomerTag.id == tag_id))

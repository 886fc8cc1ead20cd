"""Visits in the database: find the open one, start a new one safely under concurrency."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.models import Visit, Zone


def open_visit(session: Session, store_id: int, shopper_id: int) -> Visit | None:
    """The shopper's open visit at this store, if any (it may be stale)."""
    return session.scalars(
        select(Visit).where(
            Visit.store_id == store_id, Visit.shopper_id == shopper_id, Visit.ended_at.is_(None)
        )
    ).first()


def start_visit(
    session: Session,
    store_id: int,
    shopper_id: int,
    zone: Zone | None,
    at: float,
    stale: Visit | None,
) -> Visit | None:
    """Close a stale visit and open a new one; None if a concurrent request opened it first."""
    if stale is not None:
        stale.ended_at = stale.last_seen_at  # it ended when the shopper was last heard
    visit = Visit(
        store_id=store_id,
        shopper_id=shopper_id,
        started_at=at,
        last_seen_at=at,
        entry_zone_id=zone.id if zone else None,
    )
    try:
        with session.begin_nested():  # the partial unique index uq_visits_open decides
            session.add(visit)
    except IntegrityError:
        return None
    return visit

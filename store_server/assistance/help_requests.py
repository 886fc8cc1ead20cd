"""Help requests: a shopper taps "Ask for help"; staff acknowledge, close, or it escalates.

raised -> acknowledged ("on my way", first tablet wins) -> closed, or expired; unacknowledged
requests escalate to the managers. The rules are the pickup alerts' (`pickup.lifecycle`: the
open states, the escalation levels and expiry, the first name a shopper is told) and every
transition is one conditional UPDATE, so two tablets acting at once cannot both win and a
repeated sweep changes nothing twice.

The zone comes from presence (the last zone her open visit was placed in) or from her pick; a
shopper the store does not place is helped "at the store", never refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from store_server.assistance.views import HelpRequestOut, MyHelpRequestOut
from store_server.db.database import rows_changed
from store_server.db.models import (
    Consent,
    HelpRequest,
    PresenceEvent,
    Shopper,
    StaffUser,
    Store,
    Survey,
    Visit,
    Zone,
)
from store_server.events import Audience, Event
from store_server.messaging.outbound import person_contact
from store_server.pickup.lifecycle import (
    OPEN_STATES,
    due_escalation_level,
    first_name,
    is_expired,
)
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import HelpStatus, PresenceKind

log = logging.getLogger(__name__)
# Where staff go when presence does not place her and she picked nothing.
AT_THE_STORE = "at the store"
# Presence events that place her in a named zone or bay.
PLACING_KINDS = (
    PresenceKind.ENTERED,
    PresenceKind.ZONE_ENTERED,
    PresenceKind.ZONE_DWELL,
    PresenceKind.CURBSIDE,
)


@dataclass(frozen=True)
class Asked:
    """The shopper's open request, whether this tap raised it, and the events to publish."""

    request: MyHelpRequestOut
    created: bool
    events: list[Event]


@dataclass(frozen=True)
class HelpSweep:
    """What one sweep changed among help requests, and the events to publish."""

    escalated: int = 0
    expired: int = 0
    events: list[Event] = field(default_factory=list)
    # The requests it escalated, for the managers' messages (sweep.py sends them).
    escalations: list[HelpRequestOut] = field(default_factory=list)


@dataclass(frozen=True)
class HelpChange:
    """A request after a staffer's action or the sweep, and the events to publish."""

    request: HelpRequestOut
    events: list[Event]


def _requests(session: Session, *conditions: ColumnElement[bool]) -> list[HelpRequestOut]:
    acknowledger = aliased(StaffUser)
    rows = session.execute(
        select(HelpRequest, Shopper.first_name, Zone.label, acknowledger.name)
        .join(Shopper, Shopper.id == HelpRequest.shopper_id)
        .outerjoin(Zone, Zone.id == HelpRequest.zone_id)
        .outerjoin(acknowledger, acknowledger.id == HelpRequest.acknowledged_by)
        .where(*conditions)
        .order_by(HelpRequest.raised_at, HelpRequest.id)
    ).all()
    return [
        HelpRequestOut(
            request_id=r.id,
            store_id=r.store_id,
            first_name=name,
            where=label or AT_THE_STORE,
            raised_at=r.raised_at,
            status=HelpStatus(r.status),
            acknowledged_by=ack_name,
            acknowledged_at=r.acknowledged_at,
            closed_at=r.closed_at,
            escalation_level=r.escalation_level,
            escalated_at=r.escalated_at,
        )
        for r, name, label, ack_name in rows
    ]


def help_request(session: Session, request_id: int) -> HelpRequestOut:
    """One request as staff see it: her first name, where, since when, who is going."""
    return _requests(session, HelpRequest.id == request_id)[0]


def open_requests(session: Session, store_id: int) -> list[HelpRequestOut]:
    """The store's open help requests, oldest first (a tablet loads and re-syncs with this)."""
    return _requests(session, HelpRequest.store_id == store_id, HelpRequest.status.in_(OPEN_STATES))


def _as_shopper_sees(session: Session, row: HelpRequestOut) -> MyHelpRequestOut:
    store = session.get(Store, row.store_id)
    person = person_contact(store) if store is not None else None
    return MyHelpRequestOut(
        request_id=row.request_id,
        store_id=row.store_id,
        where=row.where,
        raised_at=row.raised_at,
        status=row.status,
        staff_on_the_way=first_name(row.acknowledged_by) if row.acknowledged_by else None,
        store_phone=person.phone if person else "",
        store_url=person.url if person else "",
    )


def _shopper_event(session: Session, shopper_id: int, row: HelpRequestOut) -> Event:
    """What her page hears: the request as she sees it (who is coming, never a full name)."""
    return Event(
        "help_update", _as_shopper_sees(session, row).model_dump(), Audience.shopper(shopper_id)
    )


def _presence_zone(session: Session, store_id: int, shopper_id: int) -> Zone | None:
    """The zone or bay her open visit was last placed in, if any."""
    name = session.scalar(
        select(PresenceEvent.zone)
        .join(Visit, Visit.id == PresenceEvent.visit_id)
        .where(
            PresenceEvent.store_id == store_id,
            PresenceEvent.shopper_id == shopper_id,
            PresenceEvent.kind.in_(PLACING_KINDS),
            PresenceEvent.zone.is_not(None),
            Visit.ended_at.is_(None),
        )
        .order_by(PresenceEvent.at.desc(), PresenceEvent.id.desc())
        .limit(1)
    )
    if name is None:
        return None
    return _zone(session, store_id, name)


def _zone(session: Session, store_id: int, name: str) -> Zone | None:
    return session.scalars(select(Zone).where(Zone.store_id == store_id, Zone.name == name)).first()


def _open_of(session: Session, store_id: int, shopper_id: int) -> HelpRequest | None:
    return session.scalars(
        select(HelpRequest).where(
            HelpRequest.store_id == store_id,
            HelpRequest.shopper_id == shopper_id,
            HelpRequest.status.in_(OPEN_STATES),
        )
    ).first()


def ask_for_help(
    session: Session, shopper_id: int, store_id: int, picked_zone: str | None, now: float
) -> Asked:
    """ "Ask for help": raise a request for every tablet of the store, or return her open one.

    The zone is the one she picked, else where presence last placed her in this visit, else
    none ("at the store"): not being in the store is no reason to refuse help.

    Raises:
        DomainError: `no_consent` (403) if she has no consent at this store (she is not its
            shopper), `unknown_zone` (400) if she picked a zone the store does not have.
    """
    member = session.scalar(
        select(Consent.id).where(Consent.shopper_id == shopper_id, Consent.store_id == store_id)
    )
    if member is None:
        raise DomainError(Refusal.FORBIDDEN, "no_consent", "you have not joined this store's app")
    zone: Zone | None = None
    if picked_zone is not None:
        zone = _zone(session, store_id, picked_zone)
        if zone is None:
            raise DomainError(
                Refusal.INVALID, "unknown_zone", f"this store has no zone {picked_zone!r}"
            )
    else:
        zone = _presence_zone(session, store_id, shopper_id)
    existing = _open_of(session, store_id, shopper_id)
    if existing is None:
        row = HelpRequest(
            store_id=store_id,
            shopper_id=shopper_id,
            zone_id=zone.id if zone else None,
            status=HelpStatus.RAISED,
            raised_at=now,
            escalation_level=0,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a second tap raced this one: hers is the one that won
            existing = _open_of(session, store_id, shopper_id)
        else:
            out = help_request(session, row.id)
            log.info(
                "event=help_requested store=%s request=%s placed=%s",
                store_id,
                row.id,
                "picked" if picked_zone else "presence" if zone else "no",
            )
            events = [
                Event("help_request", out.model_dump(), Audience.staff(store_id)),
                _shopper_event(session, shopper_id, out),
            ]
            return Asked(_as_shopper_sees(session, out), True, events)
    assert existing is not None  # noqa: S101 - open, or the racing tap's
    out = help_request(session, existing.id)
    return Asked(_as_shopper_sees(session, out), False, [])


def my_open_requests(session: Session, shopper_id: int) -> list[MyHelpRequestOut]:
    """Her open requests (one per store at most): the page shows them again after a reload."""
    rows = _requests(
        session, HelpRequest.shopper_id == shopper_id, HelpRequest.status.in_(OPEN_STATES)
    )
    return [_as_shopper_sees(session, r) for r in rows]


def _explain_refusal(session: Session, store_id: int, request_id: int) -> DomainError:
    """Why a conditional update changed nothing: unknown request, or who got there first."""
    row = session.get(HelpRequest, request_id)
    if row is None or row.store_id != store_id:
        return DomainError(
            Refusal.NOT_FOUND, "unknown_help_request", f"no help request {request_id} here"
        )
    if row.status == HelpStatus.ACKNOWLEDGED:
        by = session.get(StaffUser, row.acknowledged_by) if row.acknowledged_by else None
        return DomainError(
            Refusal.CONFLICT,
            "already_acknowledged",
            f"{by.name if by else 'someone'} is on the way",
            {"acknowledged_by": by.name if by else None, "acknowledged_at": row.acknowledged_at},
        )
    return DomainError(
        Refusal.CONFLICT, f"help_{row.status}", f"this help request is already {row.status}"
    )


def _changed(session: Session, request_id: int) -> HelpChange:
    out = help_request(session, request_id)
    row = session.get(HelpRequest, request_id)
    assert row is not None  # noqa: S101 - read just above
    events = [
        Event("help_updated", out.model_dump(), Audience.staff(out.store_id)),
        _shopper_event(session, row.shopper_id, out),
    ]
    return HelpChange(out, events)


def acknowledge(
    session: Session, store_id: int, request_id: int, staff_id: int, now: float
) -> HelpChange:
    """ "On my way": the first staffer wins; she is told who is coming."""
    result = session.execute(
        update(HelpRequest)
        .where(
            HelpRequest.id == request_id,
            HelpRequest.store_id == store_id,
            HelpRequest.status == HelpStatus.RAISED,
        )
        .values(status=HelpStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=staff_id)
    )
    if rows_changed(result) != 1:
        raise _explain_refusal(session, store_id, request_id)
    log.info("event=help_acknowledged store=%s request=%s", store_id, request_id)
    return _changed(session, request_id)


def close(
    session: Session, store_id: int, request_id: int, staff_id: int, now: float
) -> HelpChange:
    """She was helped: close the request and ask her the one-question survey (the care score)."""
    result = session.execute(
        update(HelpRequest)
        .where(
            HelpRequest.id == request_id,
            HelpRequest.store_id == store_id,
            HelpRequest.status.in_(OPEN_STATES),
        )
        .values(status=HelpStatus.CLOSED, closed_at=now, closed_by=staff_id)
    )
    if rows_changed(result) != 1:
        raise _explain_refusal(session, store_id, request_id)
    row = session.get(HelpRequest, request_id)
    assert row is not None  # noqa: S101 - updated just above
    session.add(
        Survey(store_id=store_id, shopper_id=row.shopper_id, help_request_id=row.id, sent_at=now)
    )
    session.flush()
    log.info("event=help_closed store=%s request=%s", store_id, request_id)
    return _changed(session, request_id)


def sweep_help_requests(session: Session, now: float, expiry_s: float) -> HelpSweep:
    """Escalate unacknowledged requests to the managers (each level once) and expire stale ones."""
    rows = session.execute(
        select(
            HelpRequest.id,
            HelpRequest.status,
            HelpRequest.raised_at,
            HelpRequest.escalation_level,
            Store.ack_limit_s,
            Store.second_escalation_s,
        )
        .join(Store, Store.id == HelpRequest.store_id)
        .where(HelpRequest.status.in_(OPEN_STATES))
    ).all()
    expired = 0
    events: list[Event] = []
    escalations: list[HelpRequestOut] = []
    for request_id, status, raised_at, level, ack_limit, second_limit in rows:
        if is_expired(raised_at, now, expiry_s):
            done = session.execute(
                update(HelpRequest)
                .where(HelpRequest.id == request_id, HelpRequest.status.in_(OPEN_STATES))
                .values(status=HelpStatus.EXPIRED, closed_at=now)
            )
            if rows_changed(done) == 1:
                expired += 1
                events += _changed(session, request_id).events
            continue
        due = due_escalation_level(raised_at, now, ack_limit, second_limit)
        if status != HelpStatus.RAISED or due <= level:
            continue
        done = session.execute(
            update(HelpRequest)
            .where(
                HelpRequest.id == request_id,
                HelpRequest.status == HelpStatus.RAISED,
                HelpRequest.escalation_level == level,
            )
            .values(escalation_level=due, escalated_at=now)
        )
        if rows_changed(done) == 1:
            change = _changed(session, request_id)
            escalations.append(change.request)
            events.append(
                Event(
                    "help_escalated",
                    change.request.model_dump(),
                    Audience.managers(change.request.store_id),
                )
            )
            events += change.events
    return HelpSweep(len(escalations), expired, events, escalations)

"""Visits and presence events in the database: the shell around the fusion core.

Fusion states live in each process's memory (`FusionStates`), keyed by store and shopper, and are
rebuilt from the open visit and the recent observations when missing or out of date
(`pipeline.states_before`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ARRAY, Executable, Integer, Select, any_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import (
    CustomerTag,
    Gateway,
    Observation,
    PresenceEvent,
    Shopper,
    Visit,
    Zone,
)
from store_server.events import Audience, Event
from store_server.presence import fusion
from store_server.settings import StoreSettings
from store_server.vocabulary import PresenceKind


class PresenceEventOut(BaseModel):
    """A presence event as staff tablets receive it (Socket.IO `presence`): first name only."""

    id: int
    store_id: int
    shopper_id: int
    first_name: str
    visit_id: int | None
    kind: PresenceKind
    zone: str | None
    at: float
    confidence: float
    reasons: list[dict[str, Any]]
    dwell_s: float | None = None


def open_visit(session: Session, store_id: int, shopper_id: int) -> Visit | None:
    """The shopper's open visit at this store, if any (it may be stale)."""
    return session.scalars(
        select(Visit).where(
            Visit.store_id == store_id, Visit.shopper_id == shopper_id, Visit.ended_at.is_(None)
        )
    ).first()


def open_visits(
    session: Session, store_id: int, shopper_ids: set[int], *, fresh: bool = False
) -> dict[int, Visit]:
    """The open visits of these shoppers at this store, by shopper (one query).

    Args:
        fresh: reload visits already in the session (read again before writing them).
    """
    postgresql = session.connection().dialect.name == "postgresql"
    query = _OPEN_VISITS[postgresql, fresh]
    found = session.scalars(query, {"store_id": store_id, "shopper_ids": list(shopper_ids)})
    return {visit.shopper_id: visit for visit in found}


def _open_visits_statement(postgresql: bool, fresh: bool) -> Select[Visit]:
    """The query of `open_visits`, on `store_id` and `shopper_ids`: on PostgreSQL the ids as
    an array (`= ANY`), one text for every batch, so the driver prepares it once."""
    shopper_in = (
        Visit.shopper_id == any_(bindparam("shopper_ids", type_=ARRAY(Integer)))
        if postgresql
        else Visit.shopper_id.in_(bindparam("shopper_ids", expanding=True))
    )
    query = select(Visit).where(
        Visit.store_id == bindparam("store_id"), shopper_in, Visit.ended_at.is_(None)
    )
    return query.execution_options(populate_existing=True) if fresh else query


# Built once, by (PostgreSQL, fresh): a statement's construction costs a batch more than its
# execution.
_OPEN_VISITS = {
    (postgresql, fresh): _open_visits_statement(postgresql, fresh)
    for postgresql in (False, True)
    for fresh in (False, True)
}


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


# Fusion states kept per process; beyond this many the ones not heard longest go first (a
# dropped state is rebuilt from the database when its shopper is heard again).
MAX_FUSION_STATES = 50_000


class FusionStates:
    """Each shopper's fusion state at each store, in this process's memory."""

    def __init__(self) -> None:
        self._states: dict[tuple[int, int], fusion.PersonState] = {}
        self._lock = threading.Lock()

    def get_all(self, store_id: int, shopper_ids: Iterable[int]) -> dict[int, fusion.PersonState]:
        """The remembered states of these shoppers at this store, by shopper (those never seen by
        this process, or dropped, are left out): one lock for a batch's shoppers."""
        found = {}
        with self._lock:
            for shopper_id in shopper_ids:
                state = self._states.get((store_id, shopper_id))
                if state is not None:
                    found[shopper_id] = state
        return found

    def put(self, store_id: int, shopper_id: int, state: fusion.PersonState) -> None:
        """Remember a state (after its transaction committed)."""
        self.put_all(store_id, {shopper_id: state})

    def put_all(self, store_id: int, states: Mapping[int, fusion.PersonState]) -> None:
        """Remember these shoppers' states at this store (after their transaction committed)."""
        with self._lock:
            for shopper_id, state in states.items():
                self._states[(store_id, shopper_id)] = state
            if len(self._states) > MAX_FUSION_STATES:
                oldest = sorted(self._states.items(), key=lambda kv: kv[1].last_heard_at or 0.0)
                for key, _ in oldest[: len(self._states) - MAX_FUSION_STATES]:
                    del self._states[key]

    def snapshot(self) -> list[tuple[tuple[int, int], fusion.PersonState]]:
        """Every remembered ((store id, shopper id), state), for the sweep to advance."""
        with self._lock:
            return list(self._states.items())

    def forget(self, store_id: int, shopper_id: int) -> None:
        """Drop a state (the shopper erased their data or paused detection)."""
        with self._lock:
            self._states.pop((store_id, shopper_id), None)


def fusion_params(settings: StoreSettings) -> fusion.FusionParams:
    """The fusion tunables this server runs with."""
    return fusion.FusionParams(entry_rssi_dbm=float(settings.entry_rssi_dbm))


def recent_readings_query(store_id: int, shopper_ids: set[int], since: float) -> Executable:
    """The readings `recent_readings` reads: a range of the index on (store, shopper, time)
    for each shopper."""
    return (
        select(
            Observation.shopper_id,
            Observation.gateway_id,
            Observation.rssi,
            Observation.seen_at,
            Observation.tag_id,
            Gateway.rssi_offset_db,
            Zone.kind,
            Zone.name,
            CustomerTag.label,
        )
        .join(Gateway, Gateway.id == Observation.gateway_id)
        .outerjoin(Zone, Zone.id == Gateway.zone_id)
        .outerjoin(CustomerTag, CustomerTag.id == Observation.tag_id)
        .where(
            Observation.store_id == store_id,
            Observation.shopper_id.in_(list(shopper_ids)),
            Observation.seen_at >= since,
        )
        .order_by(Observation.seen_at)
    )


def recent_readings(
    session: Session, store_id: int, shopper_ids: set[int], since: float
) -> dict[int, list[fusion.Reading]]:
    """These shoppers' stored readings at this store since `since`, as fusion signals, by
    shopper."""
    rows = session.execute(recent_readings_query(store_id, shopper_ids, since)).all()
    readings: dict[int, list[fusion.Reading]] = {}
    for shopper_id, gateway_id, rssi, seen_at, tag_id, offset, kind, name, label in rows:
        readings.setdefault(shopper_id, []).append(
            fusion.GatewayReading(
                gateway_id,
                fusion.zone_place(kind, name),
                rssi,
                offset,
                seen_at,
                "customer_tag" if tag_id is not None else "eddystone_eid",
                label,
            )
        )
    return readings


@dataclass
class Outcome:
    """What fusing changed: new visits (with their `entered`), stored events, states to keep."""

    entered: list[tuple[Visit, fusion.PresenceEvent]] = field(default_factory=list)
    recorded: list[PresenceEventOut] = field(default_factory=list)
    states: dict[int, fusion.PersonState] = field(default_factory=dict)
    ignored: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> list[Event]:
        """The stored presence events as the staff room receives them."""
        return [staff_event(recorded) for recorded in self.recorded]


def record_fused(
    session: Session,
    store_id: int,
    fused: dict[int, fusion.Fused],
    now: float,
) -> Outcome:
    """Persist what fusion decided for each shopper: visits opened and closed, presence events.

    A visit opens at the place of its `entered` event (the door, a bay, a zone).
    """
    outcome = Outcome()
    # Read again under the write lock, for the shoppers whose visit this batch may write: an
    # event, or a visit fusion holds open. Another's visit is never touched below.
    writing = {s for s, result in fused.items() if result.events or result.state.visit_open}
    visits = open_visits(session, store_id, writing, fresh=True) if writing else {}
    for shopper_id, result in fused.items():
        if result.ignored:
            outcome.ignored.update(result.ignored)
        outcome.states[shopper_id] = result.state
        visit = visits.get(shopper_id)
        for event in result.events:
            if event.kind == PresenceKind.ENTERED:
                stale = visit
                zone = zone_named(session, store_id, event.place)
                visit = start_visit(session, store_id, shopper_id, zone, event.at, stale=stale)
                if visit is None:
                    continue  # a concurrent batch opened it: that one reports the entry
                outcome.entered.append((visit, event))
            elif event.kind == PresenceKind.EXITED:
                if visit is None or not close_visit(session, visit, event.at):
                    continue
            outcome.recorded.append(record_event(session, store_id, shopper_id, visit, event))
            if event.kind == PresenceKind.EXITED:
                visit = None
        if visit is not None and result.state.visit_open:
            heard = fusion.heard_until(result.state, now)
            if heard is not None:
                visit.last_seen_at = max(visit.last_seen_at, min(heard, now))
    return outcome


def zone_named(session: Session, store_id: int, name: str | None) -> Zone | None:
    """The store's zone of that name (a fusion place's), or None."""
    if name is None:
        return None
    return session.scalars(select(Zone).where(Zone.store_id == store_id, Zone.name == name)).first()


def close_visit(session: Session, visit: Visit, at: float) -> bool:
    """End an open visit at `at`; False if someone (another batch, the sweep) ended it first."""
    done = session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.ended_at.is_(None))
        .values(ended_at=at)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(done) != 1:
        return False
    session.refresh(visit)
    return True


def record_event(
    session: Session,
    store_id: int,
    shopper_id: int,
    visit: Visit | None,
    event: fusion.PresenceEvent,
) -> PresenceEventOut:
    """Store a presence event; return it as staff see it (first name, no contact details)."""
    row = PresenceEvent(
        store_id=store_id,
        shopper_id=shopper_id,
        visit_id=visit.id if visit is not None else None,
        kind=event.kind,
        zone=event.place,
        at=event.at,
        confidence=event.confidence,
        reasons=list(event.reasons),
        dwell_s=event.dwell_s,
    )
    session.add(row)
    session.flush()
    first_name = session.scalar(select(Shopper.first_name).where(Shopper.id == shopper_id)) or ""
    out = PresenceEventOut(
        id=row.id,
        store_id=store_id,
        shopper_id=shopper_id,
        first_name=first_name,
        visit_id=row.visit_id,
        kind=event.kind,
        zone=event.place,
        at=event.at,
        confidence=event.confidence,
        reasons=list(event.reasons),
        dwell_s=event.dwell_s,
    )
    return out


def staff_event(recorded: PresenceEventOut) -> Event:
    """A stored presence event as the `presence` event of its store's staff room."""
    return Event("presence", recorded.model_dump(), Audience.staff(recorded.store_id))

"""The one presence pipeline: every signal about a shopper goes through it into fusion.

Gateway batches (`presence.ingest`), the beacons a phone heard and manual check-ins
(`shoppers.checkin`) and the clock (the sweep's `advance_remembered`) all end here: fusion
decides the events, each with one confidence and one set of reasons; the visits and events are
stored; a pickup alert takes its `entered` event's confidence and reasons; campaigns are decided
on the stored events, whatever signal caused them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from store_server.db.models import Visit
from store_server.engagement import engine as engagement
from store_server.events import Event
from store_server.messaging.outbound import Job, Reach
from store_server.pickup.alerts import raise_pickup_alerts
from store_server.presence import fusion
from store_server.presence.visits import (
    FusionStates,
    open_visit,
    open_visits,
    recent_readings,
    record_fused,
    zone_named,
)


@dataclass
class PresenceOutcome:
    """What one pass through the pipeline did: counts, and what to emit and send after commit."""

    entered: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    alerts: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    offers: list[Job] = field(default_factory=list)
    # Each fused shopper's state, to remember (FusionStates.put_all) once the transaction committed.
    states: dict[int, fusion.PersonState] = field(default_factory=dict)
    # The visits opened, per shopper (a check-in answers with its alerts).
    visits: dict[int, Visit] = field(default_factory=dict)

    def remember(self, states: FusionStates, store_id: int) -> None:
        """Keep the fused states (call after the commit)."""
        states.put_all(store_id, self.states)


def states_before(
    session: Session,
    states: FusionStates,
    store_id: int,
    shopper_ids: set[int],
    params: fusion.FusionParams,
    now: float,
    *,
    open_spans: dict[int, tuple[float, float]] | None = None,
) -> dict[int, fusion.PersonState]:
    """Each shopper's fusion state before the new signals: from memory when it agrees with the
    database, else restored.

    Another process (or the sweep) may have opened or closed a visit since this process last
    fused: the database's open visit is the truth, and the state is rebuilt from it and the
    readings of the last lost timeout. Two queries for the lot, whatever their number; one
    when the caller read the open visits already (`open_spans`: each shopper's open visit at
    the store as (started at, last seen at), ingest reads them with the batch's sources).
    """
    if not shopper_ids:
        return {}
    if open_spans is None:
        open_spans = {
            shopper_id: (visit.started_at, visit.last_seen_at)
            for shopper_id, visit in open_visits(session, store_id, shopper_ids).items()
        }
    found: dict[int, fusion.PersonState] = {}
    restore: dict[int, tuple[float, float] | None] = {}
    remembered_all = states.get_all(store_id, shopper_ids)
    for shopper_id in shopper_ids:
        span = open_spans.get(shopper_id)
        live = span is not None and now - span[1] < params.lost_timeout_s
        remembered = remembered_all.get(shopper_id)
        if remembered is not None and remembered.visit_open == live:
            found[shopper_id] = remembered
        else:
            restore[shopper_id] = span if live else None
    if restore:
        readings = recent_readings(session, store_id, set(restore), now - params.lost_timeout_s)
        for shopper_id, live_span in restore.items():
            found[shopper_id] = fusion.restore(live_span, readings.get(shopper_id, []), params)
    return found


def fuse_all(
    before: dict[int, fusion.PersonState],
    signals: dict[int, list[fusion.Signal]],
    params: fusion.FusionParams,
    now: float,
) -> dict[int, fusion.Fused]:
    """Fuse each shopper's signals into their state (pure: no database)."""
    return {
        shopper_id: fusion.fuse(before[shopper_id], shopper_signals, params, now)
        for shopper_id, shopper_signals in signals.items()
    }


def fuse_and_record(
    session: Session,
    store_id: int,
    before: dict[int, fusion.PersonState],
    signals: dict[int, list[fusion.Signal]],
    params: fusion.FusionParams,
    now: float,
    reach: Reach,
) -> PresenceOutcome:
    """Fuse each shopper's signals into their state, then store and act on the events."""
    return record_presence(session, store_id, fuse_all(before, signals, params, now), now, reach)


def advance_remembered(
    session: Session, states: FusionStates, params: fusion.FusionParams, now: float, reach: Reach
) -> dict[int, PresenceOutcome]:
    """What time alone decides for every state this process remembers, per store.

    A walk-by once the passer has gone, a dwell reached while still in the zone, an exit the
    evidence already says: no new signal will come to trigger them. States that disagree with
    the database (another process fused since) are rebuilt first, as ingest does.
    """
    pending: dict[int, set[int]] = {}
    for (store_id, shopper_id), state in states.snapshot():
        waiting = (
            state.visit_open
            or state.placed_elsewhere_since is not None
            or (state.near_door_since is not None and not state.walk_by_reported)
            or state.region_since is not None  # a sleeping app's region entry comes due
        )
        if waiting:
            pending.setdefault(store_id, set()).add(shopper_id)
    outcomes: dict[int, PresenceOutcome] = {}
    for store_id, shopper_ids in pending.items():
        before = states_before(session, states, store_id, shopper_ids, params, now)
        fused = {
            shopper_id: fusion.advance(state, params, now) for shopper_id, state in before.items()
        }
        outcomes[store_id] = record_presence(session, store_id, fused, now, reach)
    return outcomes


def alert_open_visit(
    session: Session,
    store_id: int,
    shopper_id: int,
    place: str | None,
    why: tuple[float, list[dict[str, Any]]],
    now: float,
) -> list[Event]:
    """Pickup alerts for a shopper already in the store who says where she is (a check-in)."""
    visit = open_visit(session, store_id, shopper_id)
    if visit is None:
        return []
    zone = zone_named(session, store_id, place)
    return raise_pickup_alerts(session, store_id, [visit], zone, {shopper_id: why}, now)


def record_presence(
    session: Session,
    store_id: int,
    fused: dict[int, fusion.Fused],
    now: float,
    reach: Reach,
) -> PresenceOutcome:
    """Store what fusion decided, raise the pickup alerts of entries, decide the campaigns."""
    outcome = record_fused(session, store_id, fused, now)
    alerts: list[Event] = []
    for visit, entered in outcome.entered:
        why = {visit.shopper_id: (entered.confidence, [dict(r) for r in entered.reasons])}
        zone = zone_named(session, store_id, entered.place)
        alerts += raise_pickup_alerts(session, store_id, [visit], zone, why, now)
    # After the alerts: a shopper whose order just became `arrived` gets no promotion.
    offers = engagement.on_presence_events(session, outcome.recorded, now, reach)
    return PresenceOutcome(
        entered=len(outcome.entered),
        ignored=outcome.ignored,
        alerts=alerts,
        events=outcome.events,
        offers=offers,
        states=outcome.states,
        visits={visit.shopper_id: visit for visit, _ in outcome.entered},
    )

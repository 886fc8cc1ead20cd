"""The periodic jobs. The presence clock (every process, every second) advances the process's
fusion states: walk-bys, dwells and exits that no new signal will trigger. The sweep (one
process) escalates unacknowledged alerts, expires stale ones, closes lost visits, decides
campaigns on those exits and releases offers held for quiet hours.

Everything is derived from stored timestamps and each change is a conditional UPDATE, so a late
or repeated run changes nothing twice: escalations go out exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store_server.db.database import Database, rows_changed
from store_server.db.models import PickupAlert, Store, Visit
from store_server.engagement import engine as engagement
from store_server.events import Audience, Event
from store_server.messaging.outbound import NO_REACH, Job, Reach
from store_server.pickup.alerts import arrival
from store_server.pickup.lifecycle import OPEN_STATES, due_escalation_level, is_expired
from store_server.presence import fusion
from store_server.presence.pipeline import advance_remembered
from store_server.presence.visits import (
    FusionStates,
    PresenceEventOut,
    close_visit,
    fusion_params,
    record_event,
    staff_event,
)
from store_server.services import Services
from store_server.settings import StoreSettings
from store_server.vocabulary import PresenceKind

log = logging.getLogger(__name__)
# Silence is weak evidence of leaving (a phone can die in the store): an exit by the lost timeout
# is reported at even odds.
LOST_CONFIDENCE = 0.5
# Fusion decides by the second (a walk-by 10 s after the passer was last heard, a dwell at
# 30 s): its clock ticks once a second, so those events are at most a second late.
PRESENCE_CLOCK_S = 1.0


@dataclass(frozen=True)
class SweepResult:
    """What one sweep changed, and the events to emit."""

    escalated: int
    expired: int
    visits_closed: int
    events: list[Event]
    jobs: list[Job] = field(default_factory=list)  # deliveries to submit after the commit


@dataclass(frozen=True)
class ClockResult:
    """What the presence clock decided: the events to emit and deliveries to submit."""

    events: list[Event]
    jobs: list[Job]


def presence_clock(
    db: Database, settings: StoreSettings, states: FusionStates, now: float, reach: Reach
) -> ClockResult:
    """What time alone decides for this process's fusion states at `now`, through the pipeline.

    A walk-by once the passer has gone, a dwell reached while still in the zone, an exit the
    evidence already says: no new signal will come to trigger them.
    """
    events: list[Event] = []
    jobs: list[Job] = []
    with db.transaction() as session:
        advanced = advance_remembered(session, states, fusion_params(settings), now, reach)
    for store_id, outcome in advanced.items():
        outcome.remember(states, store_id)
        events += outcome.alerts + outcome.events
        jobs += outcome.offers
    return ClockResult(events, jobs)


def sweep(
    db: Database, settings: StoreSettings, now: float, reach: Reach = NO_REACH
) -> SweepResult:
    """One pass over open alerts, visits and held offers at time `now`.

    Args:
        reach: the channels that can carry offers (the app's `Outbound.reach`); the default
            reaches nobody, so offers are decided and logged but none is sent.
    """
    events: list[Event] = []
    jobs: list[Job] = []
    escalated = expired = 0
    with db.transaction() as session:
        rows = session.execute(
            select(
                PickupAlert.id,
                PickupAlert.store_id,
                PickupAlert.status,
                PickupAlert.raised_at,
                PickupAlert.escalation_level,
                Store.ack_limit_s,
                Store.second_escalation_s,
            )
            .join(Store, Store.id == PickupAlert.store_id)
            .where(PickupAlert.status.in_(OPEN_STATES))
        ).all()
        for alert_id, store_id, status, raised_at, level, ack_limit, second_limit in rows:
            if is_expired(raised_at, now, settings.alert_expiry_s):
                done = session.execute(
                    update(PickupAlert)
                    .where(PickupAlert.id == alert_id, PickupAlert.status.in_(OPEN_STATES))
                    .values(status="expired", closed_at=now)
                )
                if rows_changed(done) == 1:
                    expired += 1
                    events.append(
                        Event(
                            "alert_updated",
                            arrival(session, alert_id).model_dump(),
                            Audience.staff(store_id),
                        )
                    )
                continue
            due = due_escalation_level(raised_at, now, ack_limit, second_limit)
            if status != "raised" or due <= level:
                continue
            done = session.execute(
                update(PickupAlert)
                .where(
                    PickupAlert.id == alert_id,
                    PickupAlert.status == "raised",
                    PickupAlert.escalation_level == level,
                )
                .values(escalation_level=due, escalated_at=now)
            )
            if rows_changed(done) == 1:
                escalated += 1
                payload = arrival(session, alert_id).model_dump()
                events.append(Event("alert_escalated", payload, Audience.managers(store_id)))
                events.append(Event("alert_updated", payload, Audience.staff(store_id)))
        exits: list[PresenceEventOut] = []
        closed = close_lost_visits(session, now, exits)
        events += [staff_event(exit_) for exit_ in exits]
        jobs += engagement.on_presence_events(session, exits, now, reach)
        jobs += engagement.release_held(session, now, reach)
    result = SweepResult(escalated, expired, closed, events, jobs)
    if escalated or expired or result.visits_closed:
        log.info(
            "event=sweep escalated=%d expired=%d visits_closed=%d",
            escalated,
            expired,
            result.visits_closed,
        )
    return result


def close_lost_visits(session: Session, now: float, exits: list[PresenceEventOut]) -> int:
    """Close every visit unheard for fusion's lost timeout; record and queue `exited` for each.

    The visit ends when the shopper was last heard. Each close is a conditional UPDATE, so a
    batch closing the same visit at the same moment, or a repeated sweep, records one exit.
    """
    params = fusion.FusionParams()  # the lost timeout only: no setting changes it
    lost = session.scalars(
        select(Visit).where(
            Visit.ended_at.is_(None), Visit.last_seen_at <= now - params.lost_timeout_s
        )
    ).all()
    closed = 0
    for visit in lost:
        if not close_visit(session, visit, visit.last_seen_at):
            continue
        closed += 1
        silent_s = round(now - visit.last_seen_at, 1)
        exited = fusion.PresenceEvent(
            PresenceKind.EXITED,
            None,
            visit.last_seen_at,
            LOST_CONFIDENCE,
            ({"signal": "lost", "silent_s": silent_s},),
        )
        exits.append(record_event(session, visit.store_id, visit.shopper_id, visit, exited))
    return closed


def start_scheduler(services: Services, run_sweep: bool = True) -> BackgroundScheduler:
    """Run the presence clock every second in this process, and the sweep every few seconds
    if `run_sweep` (exactly one process per deployment sweeps; every process keeps its own
    fusion states, so every process runs its clock)."""
    settings: StoreSettings = services.settings
    db: Database = services.db
    broadcaster = services.publisher

    outbound = services.outbound

    def clock_job() -> None:
        result = presence_clock(
            db, settings, services.fusion_states, services.clock(), outbound.reach
        )
        broadcaster.publish(result.events)
        outbound.submit_all(result.jobs)

    def sweep_job() -> None:
        result = sweep(db, settings, services.clock(), outbound.reach)
        broadcaster.publish(result.events)
        outbound.submit_all(result.jobs)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        clock_job,
        "interval",
        seconds=PRESENCE_CLOCK_S,
        id="presence_clock",
        coalesce=True,
        max_instances=1,
    )
    if run_sweep:
        scheduler.add_job(
            sweep_job,
            "interval",
            seconds=settings.sweep_interval_s,
            id="sweep",
            coalesce=True,
            max_instances=1,
        )
    scheduler.start()
    return scheduler

"""The periodic jobs. The presence clock (every process, every second) advances the process's
fusion states: walk-bys, dwells and exits that no new signal will trigger. The sweep (the one
process holding the sweep's lease) escalates unacknowledged pickup alerts and help requests,
expires stale ones, closes lost visits, decides campaigns on those exits, releases offers held
for quiet hours, re-sends what the outbound queue still owes (`outbound.due_deliveries`, and
managers' escalations by `outbound.due_staff_notices`) and
deletes raw readings past their retention (`presence.retention`). It also runs at start-up.

Everything is derived from stored timestamps and each change is a conditional UPDATE, so a late
or repeated run changes nothing twice: escalations go out exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store_server.assistance.help_requests import sweep_help_requests
from store_server.db.database import Database, rows_changed
from store_server.db.models import Lease, PickupAlert, Store, Visit
from store_server.engagement import engine as engagement
from store_server.events import Audience, Event
from store_server.messaging.outbound import (
    NO_REACH,
    Job,
    Reach,
    due_deliveries,
    due_staff_notices,
)
from store_server.messaging.staff_notices import StaffNotice
from store_server.metrics import ALERTS, SWEEP_SECONDS
from store_server.pickup.alerts import arrival
from store_server.pickup.escalations import (
    escalation_notices,
    help_escalation,
    pickup_escalation,
    still_escalated,
)
from store_server.pickup.lifecycle import OPEN_STATES, due_escalation_level, is_expired
from store_server.presence import fusion
from store_server.presence.pipeline import advance_remembered
from store_server.presence.retention import Purged, purge_raw
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
# The EID tables are checked this often: a window lasts 2^K s (17 min at K=10), the next one
# is built a whole window ahead, so a minute's delay costs nothing.
EID_TABLES_S = 60.0


@dataclass(frozen=True)
class SweepResult:
    """What one sweep changed, and the events to emit."""

    escalated: int
    expired: int
    visits_closed: int
    events: list[Event]
    jobs: list[Job] = field(default_factory=list)  # deliveries to submit after the commit
    # Escalations to managers on their chosen channels, submitted after the commit too.
    notices: list[StaffNotice] = field(default_factory=list)
    help_escalated: int = 0
    help_expired: int = 0
    purged: Purged = Purged(0, 0, True)


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
    notices: list[StaffNotice] = []
    escalated = expired = 0
    with db.transaction() as session:
        # First, so the messages this pass queues below are not picked up twice.
        owed = due_deliveries(session, now, reach)
        notices += due_staff_notices(session, now, still_escalated)
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
                out = arrival(session, alert_id)
                payload = out.model_dump()
                events.append(Event("alert_escalated", payload, Audience.managers(store_id)))
                events.append(Event("alert_updated", payload, Audience.staff(store_id)))
                notices += escalation_notices(
                    session,
                    pickup_escalation(out),
                    settings.secret_key.encode(),
                    settings.base_url,
                    raised_at + settings.alert_expiry_s,  # the alert expires then anyway
                    now,
                )
        helped = sweep_help_requests(session, now, settings.alert_expiry_s)
        events += helped.events
        for request in helped.escalations:
            notices += escalation_notices(
                session,
                help_escalation(request),
                settings.secret_key.encode(),
                settings.base_url,
                request.raised_at + settings.alert_expiry_s,  # the request expires then anyway
                now,
            )
        exits: list[PresenceEventOut] = []
        closed = close_lost_visits(session, now, exits)
        events += [staff_event(exit_) for exit_ in exits]
        jobs = owed + engagement.on_presence_events(session, exits, now, reach)
        jobs += engagement.release_held(session, now, reach)
    # After the commit, in transactions of its own: an interrupted purge loses nothing else.
    purged = purge_raw(db, now, settings.raw_retention_days)
    result = SweepResult(
        escalated, expired, closed, events, jobs, notices, helped.escalated, helped.expired, purged
    )
    if (
        escalated
        or expired
        or closed
        or helped.escalated
        or helped.expired
        or purged.observations
        or purged.batches
    ):
        log.info(
            "event=sweep escalated=%d expired=%d visits_closed=%d help_escalated=%d "
            "help_expired=%d observations_purged=%d batches_purged=%d",
            escalated,
            expired,
            closed,
            helped.escalated,
            helped.expired,
            purged.observations,
            purged.batches,
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


SWEEP_LEASE = "sweep"
# A scheduler that stops renewing (killed, partitioned) hands the sweep over after this many
# sweep intervals, and never sooner than the floor: a sweep is a few database round trips.
LEASE_INTERVALS = 3
LEASE_FLOOR_S = 15.0


def lease_ttl_s(settings: StoreSettings) -> float:
    """How long one taking of the sweep's lease lasts."""
    return max(LEASE_FLOOR_S, LEASE_INTERVALS * settings.sweep_interval_s)


def take_lease(db: Database, name: str, holder: str, now: float, ttl_s: float) -> bool:
    """Take or renew the lease `name` for `holder` until `now + ttl_s`; False while another
    holder's lease runs.

    One conditional UPDATE of a row the migration made: of two processes racing, the database
    lets exactly one change it.
    """
    with db.transaction() as session:
        done = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=now + ttl_s)
        )
        return rows_changed(done) == 1


def scheduler_holder() -> str:
    """A name for this scheduler, unique across hosts, processes and starts."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def run_sweep(services: Services) -> SweepResult:
    """One timed sweep now, its events emitted, its deliveries submitted and its counts kept."""
    with SWEEP_SECONDS.time():
        result = sweep(services.db, services.settings, services.clock(), services.outbound.reach)
    ALERTS.labels("escalated").inc(result.escalated)
    ALERTS.labels("expired").inc(result.expired)
    services.publisher.publish(result.events)
    services.outbound.submit_all(result.jobs)
    services.outbound.submit_all(result.notices)
    return result


def run_sweep_if_leased(services: Services, holder: str) -> SweepResult | None:
    """The scheduler's job: sweep only while this process holds the sweep's lease."""
    ttl_s = lease_ttl_s(services.settings)
    if not take_lease(services.db, SWEEP_LEASE, holder, services.clock(), ttl_s):
        return None
    return run_sweep(services)


def start_scheduler(services: Services, run_sweep: bool = True) -> BackgroundScheduler:
    """Run the presence clock every second in this process (every process keeps its own
    fusion states, so every process runs its clock) and, if `run_sweep`, the sweep every few
    seconds while this process holds the sweep's lease.

    `STORE_RUN_SCHEDULER=0` keeps a process from trying; if two try (a mistake in the
    deployment), the lease in the database lets exactly one sweep at a time, so nothing is
    escalated or sent twice, and the other takes over when the first stops renewing.
    """

    def clock_job() -> None:
        result = presence_clock(
            services.db,
            services.settings,
            services.fusion_states,
            services.clock(),
            services.outbound.reach,
        )
        services.publisher.publish(result.events)
        services.outbound.submit_all(result.jobs)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        clock_job,
        "interval",
        seconds=PRESENCE_CLOCK_S,
        id="presence_clock",
        coalesce=True,
        max_instances=1,
    )
    # Each process builds its EID tables ahead of the window change, off the request path.
    scheduler.add_job(
        lambda: services.resolver.prepare(services.clock()),
        "interval",
        seconds=EID_TABLES_S,
        id="eid_tables",
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )
    if run_sweep:
        scheduler.add_job(
            run_sweep_if_leased,
            "interval",
            args=(services, scheduler_holder()),
            seconds=services.settings.sweep_interval_s,
            id="sweep",
            coalesce=True,
            max_instances=1,
            # At once, then every interval: what a crash left queued leaves at start-up.
            next_run_time=datetime.now(UTC),
        )
    scheduler.start()
    return scheduler

"""Gateway ingest: resolve the batch's identities, fuse, then store it once and act.

Reads and fusion come first: the batch's EIDs through the resolver's window tables, its
devices and tags (with their shopper's consent, pause and open visit) in one indexed query,
each heard shopper's fusion state (from memory, or restored from her recent readings). Only
then does the transaction write: the batch id (a later copy is a conflict), the observations
of opted-in, unpaused shoppers, beacon health, and what fusion decided (visits, events,
pickup alerts, campaigns) through the presence pipeline. On SQLite the write lock is held for
the writes alone (`lock_for_writes`). The events and offers are returned, for the caller to
emit and send after the commit: no fan-out inside the transaction.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Executable,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    exists,
    insert,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.database import Database, execute_prepared, lock_for_writes
from store_server.db.models import (
    Consent,
    CustomerTag,
    Device,
    GatewayBatch,
    Observation,
    Shopper,
    Visit,
)
from store_server.events import Event
from store_server.messaging.outbound import Job, Reach
from store_server.presence import fusion
from store_server.presence.gateways import KnownGateway, record_beacon_sightings
from store_server.presence.heard import EDDYSTONE_EID, Heard
from store_server.presence.identity import DeviceKey, EidResolver
from store_server.presence.pipeline import fuse_all, record_presence, states_before
from store_server.presence.readings import still_known
from store_server.presence.visits import FusionStates, fusion_params
from store_server.problems import DomainError, Refusal
from store_server.settings import StoreSettings
from store_server.vocabulary import Purpose

log = logging.getLogger(__name__)


# Reasons an observation is not used, besides fusion's (counted in the batch answer).
IGNORED_UNRESOLVED = "unresolved"
IGNORED_PAUSED = "detection_paused"
CUSTOMER_TAG = "customer_tag"  # a Source's signal, besides EDDYSTONE_EID


class Source(NamedTuple):
    """Whose signal an observation is: an app's EID or a registered tag, and its shopper (a
    named tuple: one per observation of the batch, made in a third of a dataclass's time)."""

    shopper_id: int
    device_id: int | None
    tag_id: int | None
    signal: str  # eddystone_eid | customer_tag
    detail: str | None


@dataclass
class Ingested:
    """What storing one batch did: the counts of its answer, and what to emit and send."""

    resolved: int = 0
    entered: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    alerts: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    offers: list[Job] = field(default_factory=list)
    # Each fused shopper's state, to remember (FusionStates.put_all) once the transaction committed.
    states: dict[int, fusion.PersonState] = field(default_factory=dict)


def database_resolver(db: Database) -> EidResolver:
    """An EID resolver reading the registered devices from this database."""

    def load_devices(after: int) -> list[DeviceKey]:
        with db.sessions() as session:
            rows = session.execute(
                select(Device.id, Device.identity_key, Device.rotation_exponent)
                .where(Device.id > after)
                .order_by(Device.id)
            )
            return [DeviceKey(device_id, bytes(key), k) for device_id, key, k in rows]

    def load_exponents() -> set[int]:
        with db.sessions() as session:
            return set(session.scalars(select(Device.rotation_exponent).distinct()))

    return EidResolver(load_devices, load_exponents)


def ingest_batch(
    session: Session,
    gateway: KnownGateway,
    batch_id: str,
    heard: Sequence[Heard],
    now: float,
    *,
    states: FusionStates,
    resolver: EidResolver,
    settings: StoreSettings,
    reach: Reach,
) -> Ingested:
    """Store a batch of observations once (a later copy of the batch id is a conflict), as
    heard by `gateway` in its zone."""
    place = fusion.zone_place(gateway.zone_kind, gateway.zone_name)
    params = fusion_params(settings)
    signals: dict[int, list[fusion.Signal]] = defaultdict(list)
    rows: list[tuple[Any, ...]] = []  # in OBSERVATION_COLUMNS' order
    ignored: Counter[str] = Counter()
    store_id, gateway_id, offset_db = gateway.store_id, gateway.id, gateway.rssi_offset_db
    # What fusion.rssi_reason and fusion.clock_skew_reason let through, compared inline (the
    # loop runs per observation); a reading outside them is ignored for the reason they give.
    rssi_low, rssi_high = fusion.RSSI_RANGE_DBM
    earliest, latest = now - fusion.MAX_CLOCK_SKEW_S, now + fusion.MAX_CLOCK_SKEW_S
    sources, open_spans = _identify(session, store_id, heard, now, resolver)
    for obs, source in zip(heard, sources, strict=True):
        if not isinstance(source, Source):
            if source is not None:  # a reason
                ignored[source] += 1
            continue  # None: a store beacon's frame, beacon health, not a person
        rssi, seen_at = obs.rssi, obs.seen_at
        if not (rssi_low <= rssi <= rssi_high and earliest <= seen_at <= latest):
            # A broken radio or clock, or a replay, is never an arrival.
            bad = fusion.rssi_reason(rssi) or fusion.clock_skew_reason(seen_at, now)
            if bad is not None:
                ignored[bad] += 1
            continue
        shopper_id, device_id, tag_id, signal, detail = source
        rows.append((store_id, gateway_id, shopper_id, device_id, tag_id, rssi, seen_at))
        signals[shopper_id].append(
            fusion.GatewayReading(gateway_id, place, rssi, offset_db, seen_at, signal, detail)
        )
    before = states_before(
        session, states, store_id, set(signals), params, now, open_spans=open_spans
    )
    fused = fuse_all(before, signals, params, now)
    lock_for_writes(session)
    try:
        execute_prepared(
            session,
            _INSERT_BATCH_ID,
            {
                "gateway_id": gateway_id,
                "batch_id": batch_id,
                "received_at": now,
                "observation_count": len(heard),
            },
        )
    except IntegrityError as exc:
        raise DomainError(
            Refusal.CONFLICT, "duplicate_batch", f"batch {batch_id} was already received"
        ) from exc
    record_beacon_sightings(session, gateway, heard)
    _insert_observations(session, rows)
    outcome = record_presence(session, store_id, fused, now, reach)
    ignored.update(outcome.ignored)
    return Ingested(
        resolved=len(rows),
        entered=outcome.entered,
        ignored=ignored,
        alerts=outcome.alerts,
        events=outcome.events,
        offers=outcome.offers,
        states=outcome.states,
    )


_INSERT_BATCH_ID = insert(GatewayBatch).values(
    gateway_id=bindparam("gateway_id"),
    batch_id=bindparam("batch_id"),
    received_at=bindparam("received_at"),
    observation_count=bindparam("observation_count"),
)

OBSERVATION_COLUMNS = (
    "store_id",
    "gateway_id",
    "shopper_id",
    "device_id",
    "tag_id",
    "rssi",
    "seen_at",
)


def _insert_observations(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert a batch's observations (tuples in OBSERVATION_COLUMNS' order): by COPY on
    PostgreSQL, where an INSERT of many rows costs more to send (psycopg sends one statement
    per row, or parses a long one in Python) than the database spends storing them."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        # A device or tag deleted since the batch read it leaves no reading (readings.py).
        if known := still_known(session, rows):
            session.execute(
                insert(Observation),
                [dict(zip(OBSERVATION_COLUMNS, row, strict=True)) for row in known],
            )
        return
    columns = ", ".join(OBSERVATION_COLUMNS)
    driver: Any = connection.connection.dbapi_connection  # a psycopg connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY observations ({columns}) FROM STDIN") as copy,
    ):
        copy.write(_copy_text(rows))


_NULL = "\\N"  # COPY's text format: NULL
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    """Observation rows in COPY's text format, one line each: what psycopg's `write_row`
    writes, at a fraction of its cost per row (it looks up a dumper for every value)."""
    gateways: dict[str, str] = {}  # a batch has one gateway: escaped once
    lines = []
    for store_id, gateway_id, shopper_id, device_id, tag_id, rssi, seen_at in rows:
        gateway = gateways.get(gateway_id)
        if gateway is None:
            gateway = gateways[gateway_id] = gateway_id.translate(_COPY_ESCAPES)
        device = _NULL if device_id is None else device_id
        tag = _NULL if tag_id is None else tag_id
        lines.append(f"{store_id}\t{gateway}\t{shopper_id}\t{device}\t{tag}\t{rssi}\t{seen_at!r}\n")
    return "".join(lines)


def log_stored(gateway_id: str, observations: int, done: Ingested) -> None:
    """The log line of a stored batch (after its commit, its events and its offers)."""
    log.info(
        "event=batch_stored gateway=%s observations=%d resolved=%d entries=%d alerts=%d "
        "presence_events=%d offers=%d ignored=%d",
        gateway_id,
        observations,
        done.resolved,
        done.entered,
        len(done.alerts),
        len(done.events),
        len(done.offers),
        sum(done.ignored.values()),
    )


def _identify(
    session: Session, store_id: int, heard: Sequence[Heard], now: float, resolver: EidResolver
) -> tuple[list[Source | str | None], dict[int, tuple[float, float]]]:
    """The opted-in shopper behind each observation at this store, and the open visits of
    those shoppers here (by shopper: started at, last seen at).

    For each observation: its source, a reason to ignore it (`unresolved`: an EID of no
    consenting device, e.g. a revoked key; `detection_paused`; an EID's clock skew), or None
    for a store beacon's frame (beacon health, recorded elsewhere). Only the batch's devices
    and tags are read, with their shoppers' open visits, in one query.
    """
    # An EID stamped far off the server's clock is ignored for that, unresolved: the resolver
    # holds only the windows around the present.
    earliest, latest = now - fusion.MAX_CLOCK_SKEW_S, now + fusion.MAX_CLOCK_SKEW_S
    frames = [
        (obs.eid, obs.seen_at)
        for obs in heard
        if obs.eid is not None and earliest <= obs.seen_at <= latest
    ]
    resolved = resolver.resolve_all(frames, now)
    tag_keys = {obs.registered_id for obs in heard if obs.registered_id is not None}
    found = _batch_sources(session, store_id, {d for d in resolved if d is not None}, tag_keys)
    paused = {shopper_id for shopper_id, until in found.paused.items() if until > now}
    # What each device and tag stands for, decided once: a batch hears each phone many times.
    of_device: dict[int | None, Source | str] = {
        device_id: IGNORED_PAUSED
        if shopper_id in paused
        else Source(shopper_id, device_id, None, EDDYSTONE_EID, None)
        for device_id, shopper_id in found.devices.items()
    }
    of_tag: dict[str, Source | str] = {
        key: IGNORED_PAUSED
        if shopper_id in paused
        else Source(shopper_id, None, tag_id, CUSTOMER_TAG, label)
        for key, (tag_id, shopper_id, label) in found.tags.items()
    }
    devices = iter(resolved)
    sources: list[Source | str | None] = []
    for obs in heard:
        if obs.eid is not None:
            seen_at = obs.seen_at
            if earliest <= seen_at <= latest:
                sources.append(of_device.get(next(devices), IGNORED_UNRESOLVED))
            else:
                sources.append(fusion.clock_skew_reason(seen_at, now))
        elif obs.registered_id is not None:
            sources.append(of_tag.get(obs.registered_id))  # None: a store beacon
        else:
            sources.append(None)  # telemetry
    return sources, found.visits


@dataclass
class _Found:
    devices: dict[int, int] = field(default_factory=dict)  # device id -> shopper id
    tags: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # -> id, shopper, label
    paused: dict[int, float] = field(default_factory=dict)  # shopper id -> paused until
    # shopper id -> her open visit at the store: started at, last seen at
    visits: dict[int, tuple[float, float]] = field(default_factory=dict)


def _batch_sources(
    session: Session, store_id: int, device_ids: set[int], tag_keys: set[str]
) -> _Found:
    """The batch's devices and tags whose shopper consented to arrival at this store, with
    each shopper's open visit there: one query, by primary key, unique identifier, the
    consents' unique index and the open visits' (`uq_visits_open`)."""
    found = _Found()
    if not device_ids and not tag_keys:
        return found
    postgresql = session.connection().dialect.name == "postgresql"
    devices: Any = list(device_ids)
    if postgresql:
        # The array's text, cast by the statement: psycopg dumps a list of 500 ints in 0.27
        # ms (a dumper per element), this text is made in 0.1.
        devices = "{" + ",".join(map(str, devices)) + "}"
    rows = execute_prepared(
        session,
        _SOURCES_BY_ARRAY if postgresql else _SOURCES_BY_LIST,
        {"store_id": store_id, "device_ids": devices, "tag_keys": list(tag_keys)},
    )
    for kind, row_id, identifier, shopper_id, label, paused_until, started, seen in rows:
        if started is not None:
            found.visits[shopper_id] = (started, seen)
        if kind == "device":
            found.devices[row_id] = shopper_id
        else:
            found.tags[identifier] = (row_id, shopper_id, label)
        if paused_until is not None:
            found.paused[shopper_id] = paused_until
    return found


def _sources_statement(postgresql: bool) -> Executable:
    """The query of `_batch_sources`, on the parameters `store_id`, `device_ids` and
    `tag_keys`: on PostgreSQL the lists as arrays (`= ANY`), so the text is the same for
    every batch and prepared once; elsewhere as expanding IN lists."""

    def open_visit(shopper_id: Any) -> Any:
        return and_(
            Visit.store_id == bindparam("store_id"),
            Visit.shopper_id == shopper_id,
            Visit.ended_at.is_(None),
        )

    def consented(shopper_id: Any) -> Any:
        return exists().where(
            Consent.shopper_id == shopper_id,
            Consent.store_id == bindparam("store_id"),
            Consent.purpose == literal_column(f"'{Purpose.ARRIVAL.value}'"),
        )

    if postgresql:
        device_in = Device.id == any_(bindparam("device_ids", type_=ARRAY(Integer)))
        tag_in = CustomerTag.identifier == any_(bindparam("tag_keys", type_=ARRAY(String)))
    else:
        device_in = Device.id.in_(bindparam("device_ids", expanding=True))
        tag_in = CustomerTag.identifier.in_(bindparam("tag_keys", expanding=True))
    by_device: Any = (
        select(
            literal_column("'device'").label("kind"),
            Device.id,
            null().label("identifier"),
            Device.shopper_id,
            null().label("label"),
            Shopper.detection_paused_until,
            Visit.started_at,
            Visit.last_seen_at,
        )
        .join(Shopper, Shopper.id == Device.shopper_id)
        .outerjoin(Visit, open_visit(Device.shopper_id))
        .where(device_in, consented(Device.shopper_id))
    )
    by_tag: Any = (
        select(
            literal_column("'tag'").label("kind"),
            CustomerTag.id,
            CustomerTag.identifier,
            CustomerTag.shopper_id,
            CustomerTag.label,
            Shopper.detection_paused_until,
            Visit.started_at,
            Visit.last_seen_at,
        )
        .join(Shopper, Shopper.id == CustomerTag.shopper_id)
        .outerjoin(Visit, open_visit(CustomerTag.shopper_id))
        .where(and_(tag_in, consented(CustomerTag.shopper_id)))
    )
    return union_all(by_device, by_tag)


_SOURCES_BY_ARRAY = _sources_statement(postgresql=True)
_SOURCES_BY_LIST = _sources_statement(postgresql=False)

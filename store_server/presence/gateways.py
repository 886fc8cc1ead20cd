"""Gateways in the domain: registration, authentication, config, heartbeats, beacon health."""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from store_server.accounts.auth import token_digest, tokens_match
from store_server.db.database import execute_prepared
from store_server.db.models import Beacon, Consent, CustomerTag, Gateway, Zone
from store_server.presence.heard import EDDYSTONE_EID, Heard
from store_server.presence.readings import INGEST_SHARE, forget_readings
from store_server.problems import DomainError, Refusal

log = logging.getLogger(__name__)
# Beacons are added a few times a year; five minutes bounds how long a new one goes unheard.
CONFIG_REFRESH_S = 300
# 24 random bytes (192 bits, 32 URL-safe characters): unguessable, short enough to type into a
# gateway's settings file by hand.
GATEWAY_TOKEN_BYTES = 24
# What a gateway id may be: it goes into URLs (`/api/v1/gateways/<id>/batches`) and log lines.
GATEWAY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Calibration corrects how differently two boxes of the same model hear (antenna, enclosure,
# mounting): a few dB. 20 dB is ten times the distance at n = 2; a box that far off is faulty
# or badly placed, and an offset would only hide it.
MAX_RSSI_OFFSET_DB = 20.0


def check_gateway(gateway_id: str, rssi_offset_db: float) -> None:
    """Refuse (invalid, naming the field) an id or calibration offset no gateway may have."""
    if not GATEWAY_ID_PATTERN.match(gateway_id):
        raise DomainError(
            Refusal.INVALID,
            "invalid_gateway_id",
            f"gateway id {gateway_id!r} must be letters, digits, dot, dash or underscore "
            "(up to 64, starting with a letter or digit)",
            {"field": "id"},
        )
    if not math.isfinite(rssi_offset_db) or abs(rssi_offset_db) > MAX_RSSI_OFFSET_DB:
        raise DomainError(
            Refusal.INVALID,
            "invalid_rssi_offset_db",
            f"the RSSI offset must be a number from {-MAX_RSSI_OFFSET_DB:g} to "
            f"{MAX_RSSI_OFFSET_DB:g} dB",
            {"field": "rssi_offset_db"},
        )


def register_gateway(
    session: Session,
    gateway_id: str,
    store_id: int,
    zone_id: int | None,
    rssi_offset_db: float = 0.0,
) -> str:
    """Add a gateway with a fresh token and return the token (only its digest is stored)."""
    token = secrets.token_urlsafe(GATEWAY_TOKEN_BYTES)
    session.add(
        Gateway(
            id=gateway_id,
            store_id=store_id,
            zone_id=zone_id,
            token_sha256=token_digest(token),
            rssi_offset_db=rssi_offset_db,
        )
    )
    return token


def gateway_named(session: Session, gateway_id: str) -> Gateway:
    """The registered gateway with this id, of any store (not found `unknown_gateway`)."""
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_gateway", f"no gateway {gateway_id!r} is registered"
        )
    return gateway


def rotate_gateway_token(session: Session, gateway_id: str) -> str:
    """Give a gateway a fresh token and return it; the old one stops working at the commit."""
    gateway = gateway_named(session, gateway_id)
    token = secrets.token_urlsafe(GATEWAY_TOKEN_BYTES)
    gateway.token_sha256 = token_digest(token)
    session.flush()
    return token


def remove_gateway(session: Session, gateway_id: str) -> None:
    """Forget a gateway: its token stops working, its raw readings and batch ids go with it;
    the visits and events they made stay."""
    gateway = gateway_named(session, gateway_id)
    forget_readings(session, gateway_id=gateway_id)  # before the row it names (readings.py)
    session.delete(gateway)  # its batch ids by the database's cascade
    session.flush()


class KnownGateway(NamedTuple):
    """What a request of an authenticated gateway needs of it and of its zone (read by
    `authenticate_gateway`: plain values, not ORM rows, as a batch of 500 writes neither)."""

    id: str
    store_id: int
    rssi_offset_db: float
    zone_kind: str | None  # None: no zone, the store's floor
    zone_name: str | None


# Built once, prepared on PostgreSQL: every batch of every gateway runs it.
_GATEWAY_AND_ZONE = (
    select(
        Gateway.id,
        Gateway.store_id,
        Gateway.rssi_offset_db,
        Zone.kind,
        Zone.name,
        Gateway.token_sha256,
    )
    .outerjoin(Zone, Zone.id == Gateway.zone_id)
    .where(Gateway.id == bindparam("gateway_id"))
)
# The same, on PostgreSQL for a batch: also takes ingest's share of the lock that keeps a
# delete from leaving the batch's readings of a deleted device or tag (presence/readings.py).
_GATEWAY_AND_ZONE_INGESTING = _GATEWAY_AND_ZONE.add_columns(INGEST_SHARE)


def authenticate_gateway(
    session: Session, gateway_id: str, token: str | None, *, ingesting: bool = False
) -> KnownGateway:
    """The gateway named `gateway_id` with its zone, if `token` is its token (not found /
    unauthorized): one query, in the session of the request's own work (one connection per
    request). `ingesting`: the transaction goes on to store a batch (see readings.py)."""
    statement = _GATEWAY_AND_ZONE
    if ingesting and session.connection().dialect.name == "postgresql":
        statement = _GATEWAY_AND_ZONE_INGESTING
    found = execute_prepared(session, statement, {"gateway_id": gateway_id})
    if not found:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_gateway", f"no gateway {gateway_id!r} is registered"
        )
    *known, token_sha256 = found[0][:6]
    if token is None or not tokens_match(token, token_sha256):
        raise DomainError(Refusal.UNAUTHORIZED, "unauthorized", "missing or wrong gateway token")
    return KnownGateway(*known)


@dataclass(frozen=True)
class GatewayConfig:
    """What a gateway needs to know: the registered (kind, id) pairs whose frames it uploads."""

    registered: list[tuple[str, str]]
    entry_rssi_dbm: float | None
    refresh_s: int = CONFIG_REFRESH_S


def gateway_config(session: Session, gateway: KnownGateway, entry_rssi_dbm: float) -> GatewayConfig:
    """The store's registered beacons and tags, and the entry threshold if the gateway's
    zone is an arrival point."""
    # The entry rule compares calibrated readings; the gateway sees raw ones.
    threshold = (
        entry_rssi_dbm - gateway.rssi_offset_db
        if gateway.zone_kind in ("entrance", "bay")
        else None
    )
    beacons = session.scalars(
        select(Beacon).where(Beacon.store_id == gateway.store_id).order_by(Beacon.id)
    ).all()
    # Tags of shoppers who allow arrival detection here: a car tag is heard at the bay.
    tags = session.execute(
        select(CustomerTag.kind, CustomerTag.identifier)
        .join(Consent, Consent.shopper_id == CustomerTag.shopper_id)
        .where(Consent.store_id == gateway.store_id, Consent.purpose == "arrival")
        .distinct()
        .order_by(CustomerTag.identifier)
    ).all()
    registered = [(b.kind, b.identifier) for b in beacons] + [
        (kind, identifier) for kind, identifier in tags
    ]
    return GatewayConfig(registered, threshold)


def record_heartbeat(session: Session, gateway_id: str, report: dict[str, Any], now: float) -> None:
    """Keep the gateway's latest health report (`report`: the heartbeat as the gateway sent it)."""
    row = session.get(Gateway, gateway_id)
    assert row is not None  # noqa: S101 - authenticated a moment ago
    row.last_heartbeat_at = now
    row.last_heartbeat = report


def log_heartbeat(gateway_id: str, adapter_state: str, outbox_depth: int) -> None:
    """The log line of a stored heartbeat (after its commit)."""
    log.info(
        "event=heartbeat gateway=%s adapter=%s outbox=%d",
        gateway_id,
        adapter_state,
        outbox_depth,
    )


def record_beacon_sightings(
    session: Session, gateway: KnownGateway, observations: Iterable[Heard]
) -> int:
    """Update the health of the store's registered beacons; return how many were matched."""
    latest: dict[str, Heard] = {}
    telemetry: dict[str, Heard] = {}
    for obs in observations:
        if obs.telemetry is not None:
            if obs.beacon_id:
                telemetry[obs.beacon_id] = obs
        elif obs.kind != EDDYSTONE_EID and obs.registered_id is not None:
            key = obs.registered_id
            if key not in latest or obs.seen_at >= latest[key].seen_at:
                latest[key] = obs
    wanted = set(latest) | set(telemetry)
    if not wanted:
        return 0
    beacons = session.scalars(
        select(Beacon).where(Beacon.store_id == gateway.store_id, Beacon.identifier.in_(wanted))
    ).all()
    for beacon in beacons:
        if (seen := latest.get(beacon.identifier)) is not None and (
            beacon.last_seen_at is None or seen.seen_at >= beacon.last_seen_at
        ):
            beacon.last_seen_at, beacon.last_rssi, beacon.last_seen_by = (
                seen.seen_at,
                seen.rssi,
                gateway.id,
            )
        if (tlm := telemetry.get(beacon.identifier)) is not None and tlm.telemetry is not None:
            beacon.battery_mv = tlm.telemetry.battery_mv
            beacon.temperature_c = tlm.telemetry.temperature_c
            beacon.adv_count = tlm.telemetry.adv_count
            beacon.uptime_s = tlm.telemetry.uptime_s
            beacon.telemetry_at = tlm.seen_at
    return len(beacons)

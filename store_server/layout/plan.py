"""The store layout managers configure: zones, gateways (place, calibration) and beacons.

Every change is one transaction (the caller's session): a refused change leaves nothing behind.
Nothing here needs invalidating elsewhere: ingest reads a gateway's zone and offset from the
database with every batch, and the phone-sightings API reads beacon zones with every report. A
gateway learns a new entry threshold (its offset) or new beacons at its next configuration
refresh (`gateways.CONFIG_REFRESH_S`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from store_server.db.models import Beacon, Campaign, Gateway, Zone
from store_server.engagement.campaigns import current_version
from store_server.presence.gateways import check_gateway, register_gateway
from store_server.problems import DomainError, Refusal

# Gateways send a heartbeat every 30 s (gateway_wire.HeartbeatIn); three missed ones is not a
# hiccup on the store network but a box that is off, unplugged or stuck.
GATEWAY_SILENT_AFTER_S = 90.0
# A gateway re-reports a steady registered beacon at least every 10 s (gateway/tracking.py's
# keepalive) and beacons advertise every 0.1-1 s; five minutes unheard by every gateway is a
# dead, moved or stolen beacon, not a lost packet.
BEACON_SILENT_AFTER_S = 300.0
# A CR2032 holds near 3 V for most of its life; 2.6 V is past the knee of its discharge curve,
# about 5 % left (firmware_sim/beacons.py VOLTAGE_CURVE): replace it within days.
LOW_BATTERY_MV = 2600


def gateway_status(last_heartbeat_at: float | None, now: float) -> str:
    """`online`, `silent` (no heartbeat lately) or `never_heard`."""
    if last_heartbeat_at is None:
        return "never_heard"
    return "online" if now - last_heartbeat_at <= GATEWAY_SILENT_AFTER_S else "silent"


def beacon_health(last_seen_at: float | None, battery_mv: int | None, now: float) -> str:
    """`ok`, `low_battery`, `silent` (unheard lately) or `never_heard`."""
    if last_seen_at is None:
        return "never_heard"
    if now - last_seen_at > BEACON_SILENT_AFTER_S:
        return "silent"
    if battery_mv is not None and battery_mv <= LOW_BATTERY_MV:
        return "low_battery"
    return "ok"


def invalid_field(field: str, message: str) -> DomainError:
    """The refusal of one bad field, in the shape of a request body's validation errors."""
    details = {"fields": [{"loc": [field], "msg": message}]}
    return DomainError(Refusal.INVALID, "invalid_body", "the request body is not valid", details)


@dataclass(frozen=True)
class Layout:
    """A store's zones (by id), gateways and beacons, in id order."""

    zones: dict[int, Zone]
    gateways: Sequence[Gateway]
    beacons: Sequence[Beacon]


def zones_of(session: Session, store_id: int) -> dict[int, Zone]:
    """The store's zones by id, in id order."""
    rows = session.scalars(select(Zone).where(Zone.store_id == store_id).order_by(Zone.id))
    return {zone.id: zone for zone in rows}


def layout_of(session: Session, store_id: int) -> Layout:
    """The store's zones, gateways and beacons."""
    zones = zones_of(session, store_id)
    gateways = session.scalars(
        select(Gateway).where(Gateway.store_id == store_id).order_by(Gateway.id)
    ).all()
    beacons = session.scalars(
        select(Beacon).where(Beacon.store_id == store_id).order_by(Beacon.id)
    ).all()
    return Layout(zones, gateways, beacons)


def zone_named(session: Session, store_id: int, name: str) -> Zone:
    """The store's zone with this name (not found `unknown_zone`)."""
    zone = session.scalar(select(Zone).where(Zone.store_id == store_id, Zone.name == name))
    if zone is None:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_zone", f"no zone named {name!r} in this store"
        )
    return zone


def _zone_of(session: Session, store_id: int, zone_id: int) -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None or zone.store_id != store_id:
        raise DomainError(Refusal.NOT_FOUND, "unknown_zone", f"no zone {zone_id} in this store")
    return zone


def _check_zone_id(session: Session, store_id: int, zone_id: int | None) -> None:
    """A zone named in a body must be one of this store's (invalid, naming `zone_id`)."""
    if zone_id is None:
        return
    zone = session.get(Zone, zone_id)
    if zone is None or zone.store_id != store_id:
        raise invalid_field("zone_id", f"no zone {zone_id} in this store")


def _gateway_of(session: Session, store_id: int, gateway_id: str) -> Gateway:
    gateway = session.get(Gateway, gateway_id)
    if gateway is None or gateway.store_id != store_id:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_gateway", f"no gateway {gateway_id!r} in this store"
        )
    return gateway


def _beacon_of(session: Session, store_id: int, beacon_id: int) -> Beacon:
    beacon = session.get(Beacon, beacon_id)
    if beacon is None or beacon.store_id != store_id:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_beacon", f"no beacon {beacon_id} in this store"
        )
    return beacon


def _campaigns_naming(session: Session, store_id: int, zone_name: str) -> list[str]:
    """Campaigns whose current terms name this zone (as dwell zone or audience's past zone)."""
    names: list[str] = []
    for campaign in session.scalars(
        select(Campaign).where(Campaign.store_id == store_id).order_by(Campaign.id)
    ):
        version = current_version(session, campaign.id)
        audience = version.audience or {}
        if zone_name in (version.zone, audience.get("visited_zone")):
            names.append(campaign.name)
    return names


def _flush_or_conflict(session: Session, code: str, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # the whole transaction rolls back with the refusal
        raise DomainError(Refusal.CONFLICT, code, message) from exc


def _flush_placement(session: Session, zone_id: int | None) -> None:
    """Flush a gateway's or beacon's zone; the zone may have been deleted since it was checked
    (another manager, at the same moment), which the foreign key refuses."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise invalid_field("zone_id", f"no zone {zone_id} in this store") from exc


def create_zone(session: Session, store_id: int, name: str, kind: str, label: str) -> Zone:
    """Add a zone; its name is unique in the store (conflict `zone_name_taken`)."""
    zone = Zone(store_id=store_id, name=name, kind=kind, label=label)
    session.add(zone)
    _flush_or_conflict(session, "zone_name_taken", f"a zone is already named {name!r}")
    return zone


def edit_zone(
    session: Session, store_id: int, zone_id: int, name: str, kind: str, label: str
) -> tuple[Zone, list[str]]:
    """Rename, relabel or re-kind a zone; with the campaigns still naming its old name."""
    zone = _zone_of(session, store_id, zone_id)
    old_name = zone.name
    zone.name, zone.kind, zone.label = name, kind, label
    try:
        _flush_or_conflict(session, "zone_name_taken", f"a zone is already named {name!r}")
    except StaleDataError as exc:  # another manager deleted it since it was read
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_zone", f"no zone {zone_id} in this store"
        ) from exc
    stale = _campaigns_naming(session, store_id, old_name) if old_name != name else []
    return zone, stale


def delete_zone(session: Session, store_id: int, zone_id: int) -> list[str]:
    """Delete a zone (what was placed there loses its zone); the campaigns naming it."""
    name = _zone_of(session, store_id, zone_id).name
    # The foreign keys say ON DELETE SET NULL: the database clears the references.
    session.execute(delete(Zone).where(Zone.id == zone_id, Zone.store_id == store_id))
    return _campaigns_naming(session, store_id, name)


def create_gateway(
    session: Session, store_id: int, gateway_id: str, zone_id: int | None, rssi_offset_db: float
) -> tuple[Gateway, str]:
    """Register a gateway; with its token, which is never available again."""
    check_gateway(gateway_id, rssi_offset_db)
    _check_zone_id(session, store_id, zone_id)
    taken = f"a gateway is already registered as {gateway_id!r}"
    if session.get(Gateway, gateway_id) is not None:
        raise DomainError(Refusal.CONFLICT, "gateway_exists", taken)
    token = register_gateway(session, gateway_id, store_id, zone_id, rssi_offset_db)
    _flush_or_conflict(session, "gateway_exists", taken)
    return _gateway_of(session, store_id, gateway_id), token


def place_gateway(
    session: Session, store_id: int, gateway_id: str, zone_id: int | None, rssi_offset_db: float
) -> Gateway:
    """Set a gateway's zone and calibration offset (used from its next batch on)."""
    gateway = _gateway_of(session, store_id, gateway_id)
    _check_zone_id(session, store_id, zone_id)
    gateway.zone_id = zone_id
    gateway.rssi_offset_db = rssi_offset_db
    _flush_placement(session, zone_id)
    return gateway


def create_beacon(
    session: Session, store_id: int, kind: str, identifier: str, zone_id: int | None
) -> Beacon:
    """Register a fixed beacon by its registered id (conflict `beacon_exists` if known)."""
    _check_zone_id(session, store_id, zone_id)
    beacon = Beacon(store_id=store_id, zone_id=zone_id, kind=kind, identifier=identifier)
    session.add(beacon)
    _flush_or_conflict(session, "beacon_exists", "a beacon with this id is already registered")
    return beacon


def place_beacon(session: Session, store_id: int, beacon_id: int, zone_id: int | None) -> Beacon:
    """Move a beacon to another zone (or none)."""
    beacon = _beacon_of(session, store_id, beacon_id)
    _check_zone_id(session, store_id, zone_id)
    beacon.zone_id = zone_id
    _flush_placement(session, zone_id)
    return beacon


def delete_beacon(session: Session, store_id: int, beacon_id: int) -> None:
    """Forget a beacon (gateways stop uploading its frames at their next refresh)."""
    _beacon_of(session, store_id, beacon_id)
    session.execute(delete(Beacon).where(Beacon.id == beacon_id, Beacon.store_id == store_id))

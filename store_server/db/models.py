"""SQLAlchemy 2.x models. Times are Unix seconds (float, UTC): portable, and what the core takes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Every surrogate primary key is an `Integer`, which PostgreSQL stores in 4 bytes: an id above
# this names no row, and binding it would fail inside the database (the web layer checks first).
ROW_ID_MAX = 2**31 - 1
# A help request is open while raised or acknowledged (pickup.lifecycle.OPEN_STATES).
OPEN_HELP = "status IN ('raised', 'acknowledged')"


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Chain(Base):
    """A retailer owning stores: its shoppers, their identities and its admins are its own."""

    __tablename__ = "chains"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Store(Base):
    """One physical store, of one chain."""

    __tablename__ = "stores"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # A pickup alert nobody acknowledged escalates to the managers after this long, and again
    # after the second limit (both counted from when it was raised).
    ack_limit_s: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    second_escalation_s: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    # ISO 4217; amount-off offers are in this currency's minor units (cents, pence).
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    # A BCP 47 tag (`en-GB`): how the store's pages and messages write dates and amounts.
    locale: Mapped[str] = mapped_column(String(35), default="en", server_default="en")
    # Where shoppers reach this store's server; empty: STORE_PUBLIC_URL (one server, one store).
    public_url: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # How a shopper reaches a person at this store ("reach a person"): its phone and web
    # page; every message to her carries them; empty: not shown.
    help_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    help_url: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # The offer policy a manager sets (engagement.decide.Policy; defaults from issue 8). Quiet
    # hours are "HH:MM" local time, end exclusive; equal start and end: no quiet hours.
    max_offers_per_day: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    max_offers_per_visit: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    min_gap_s: Mapped[int] = mapped_column(Integer, default=1800, server_default="1800")
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00", server_default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")


class IntegrationToken(Base):
    """A store system (its order system) allowed to push data, e.g. pickup orders."""

    __tablename__ = "integration_tokens"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Double)


class Zone(Base):
    """A named place in a store: the entrance, a department, a curbside bay."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("store_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # a vocabulary.ZoneKind
    label: Mapped[str] = mapped_column(String(200))  # what staff read: "front door", "bay 1"


class Gateway(Base):
    """A scanning box in a store, with the secret it authenticates with (kept as a digest)."""

    __tablename__ = "gateways"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    token_sha256: Mapped[str] = mapped_column(String(64))
    rssi_offset_db: Mapped[float] = mapped_column(Double, default=0.0)
    last_heartbeat_at: Mapped[float | None] = mapped_column(Double)
    last_heartbeat: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Beacon(Base):
    """A fixed beacon of the store."""

    __tablename__ = "beacons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # a vocabulary.DeviceKind
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    last_seen_at: Mapped[float | None] = mapped_column(Double)
    last_rssi: Mapped[int | None] = mapped_column(Integer)
    last_seen_by: Mapped[str | None] = mapped_column(String(64))
    battery_mv: Mapped[int | None] = mapped_column(Integer)
    temperature_c: Mapped[float | None] = mapped_column(Double)
    adv_count: Mapped[int | None] = mapped_column(BigInteger)  # a u32 counter
    uptime_s: Mapped[float | None] = mapped_column(Double)
    telemetry_at: Mapped[float | None] = mapped_column(Double)


class Shopper(Base):
    """An opted-in shopper of one chain (the same address at two chains is two shoppers).
    Staff see the first name only."""

    __tablename__ = "shoppers"
    __table_args__ = (
        UniqueConstraint("chain_id", "email"),
        {"sqlite_autoincrement": True},  # ids reach phones: never reused
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="RESTRICT"))
    first_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    # Kept only while the shopper allows SMS (E.164, e.g. +447700900123).
    phone: Mapped[str | None] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[float] = mapped_column(Double)
    # "Pause detection": until then the shopper's observations are neither stored nor fused.
    detection_paused_until: Mapped[float | None] = mapped_column(Double)
    # Profile attributes the store's systems set (e.g. {"tier": "gold"}): campaign audiences.
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Names the shopper in e-mail unsubscribe links (never the address); made on first e-mail.
    unsubscribe_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # What a texted STOP revoked, as [[store_id, purpose], ...], so START restores exactly that.
    sms_stopped: Mapped[list[list[Any]] | None] = mapped_column(JSON)
    # The e-mail and phone (E.164) the store's order system knows her by, given at opt-in to
    # recognise her pickup orders: kept only while she allows arrival alerts at some store.
    pickup_email: Mapped[str | None] = mapped_column(String(254))
    pickup_phone: Mapped[str | None] = mapped_column(String(20))
    # An e-mail she gave that another shopper already has: shown back to her alone (so no
    # answer tells her the address is known), never sent to and never matched to orders.
    unconfirmed_email: Mapped[str | None] = mapped_column(String(254))


class Consent(Base):
    """One purpose and channel a shopper said yes to, at one store."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("shopper_id", "store_id", "purpose", "channel"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))  # a vocabulary.Purpose
    channel: Mapped[str] = mapped_column(String(20))  # a vocabulary.Channel
    granted_at: Mapped[float] = mapped_column(Double)


class Device(Base):
    """A shopper's phone: the Eddystone-EID identity key the server issued at opt-in."""

    __tablename__ = "devices"
    __table_args__ = {"sqlite_autoincrement": True}  # ids reach phones: never reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    identity_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    rotation_exponent: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)
    # The app's bearer token for the shopper API (digest only).
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)


class WebPushSubscription(Base):
    """A browser's Web Push subscription for the shopper page (RFC 8030 endpoint and keys)."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Double)


class CustomerTag(Base):
    """A key-fob or car tag registered to a shopper: heard at a bay or door, it names them."""

    __tablename__ = "customer_tags"
    __table_args__ = {"sqlite_autoincrement": True}  # ids reach phones: never reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # a vocabulary.DeviceKind
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(100))  # "car tag", "key fob"
    created_at: Mapped[float] = mapped_column(Double)


class StaffUser(Base):
    """A staffer or manager of the stores assigned to them (`staff_stores`), or an admin of
    every store of their chain."""

    __tablename__ = "staff_users"
    # The same log-in address may be a staffer at two chains: two accounts (migration 0018).
    __table_args__ = (UniqueConstraint("chain_id", "email"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="CASCADE"))
    # The store the tablet and console open at first (one of the assigned, or of the chain).
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))  # a vocabulary.StaffRole
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # How a manager hears of escalations away from the console: a vocabulary.Channel (push,
    # sms or email; the e-mail is the log-in address) or empty for the console only.
    escalation_channel: Mapped[str] = mapped_column(String(10), default="", server_default="")
    escalation_phone: Mapped[str | None] = mapped_column(String(20))  # E.164, for sms


class StaffStore(Base):
    """A store a staffer or manager works at (an admin needs none: the chain is hers)."""

    __tablename__ = "staff_stores"
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class StaffPushSubscription(Base):
    """A staffer's browser subscribed to Web Push (the console), for escalations."""

    __tablename__ = "staff_push_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Double)


class StaffSession(Base):
    """A logged-in tablet; the bearer token is kept only as a digest."""

    __tablename__ = "staff_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)


class PickupOrder(Base):
    """A click-and-collect order."""

    __tablename__ = "pickup_orders"
    __table_args__ = (UniqueConstraint("store_id", "external_id"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    # None: the customer has not opted in; the order is kept but never matched to an arrival.
    shopper_id: Mapped[int | None] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))  # a vocabulary.OrderStatus
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Double)
    pickup_from: Mapped[float | None] = mapped_column(Double)
    pickup_until: Mapped[float | None] = mapped_column(Double)
    # While unmatched and open: SHA-256 of the customer's normalised e-mail and phone
    # (pickup/matching.py), so a shopper joining later finds it; cleared once matched.
    customer_email_sha256: Mapped[str | None] = mapped_column(String(64))
    customer_phone_sha256: Mapped[str | None] = mapped_column(String(64))
    # Until when the order's claim link works; set when the order is created or changes status.
    claim_expires_at: Mapped[float | None] = mapped_column(Double)
    # When a shopper attached it through its claim link: no identifier match moves it then.
    claimed_at: Mapped[float | None] = mapped_column(Double)


class OrderExchange(Base):
    """An exchange or return recorded against an order at handover."""

    __tablename__ = "order_exchanges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("pickup_orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # a vocabulary.ExchangeKind
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[float] = mapped_column(Double)


class GatewayBatch(Base):
    """A batch id already received from a gateway: the idempotency key of ingest."""

    __tablename__ = "gateway_batches"
    __table_args__ = (
        UniqueConstraint("gateway_id", "batch_id"),
        Index("ix_gateway_batches_received_at", "received_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[float] = mapped_column(Double)
    observation_count: Mapped[int] = mapped_column(Integer)


class Observation(Base):
    """A gateway heard an opted-in shopper's device. Unknown devices are never stored; known
    ones are deleted after STORE_RAW_RETENTION_DAYS (privacy.retention)."""

    __tablename__ = "observations"
    __table_args__ = (
        # Deleting a device (erasure) finds its readings by this index.
        Index("ix_observations_device_seen", "device_id", "seen_at"),
        # The retention purge deletes by time.
        Index("ix_observations_seen_at", "seen_at"),
        # A shopper's recent readings at a store (fusion restored): a range, never a scan.
        Index("ix_observations_store_shopper_seen", "store_id", "shopper_id", "seen_at"),
    )
    # No foreign keys (migration 0020): each cost every stored reading a look-up and a lock of
    # its parent row, over a quarter of PostgreSQL's CPU per batch. Whoever deletes a gateway,
    # device or tag deletes its readings in the same transaction, and ingest never writes a
    # reading whose parent is gone (presence/readings.py says how; nothing deletes a store).
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(Integer)
    gateway_id: Mapped[str] = mapped_column(String(64))
    # The device's or tag's shopper, copied for the index above.
    shopper_id: Mapped[int] = mapped_column(Integer)
    # Exactly one of device_id (an app's EID) and tag_id (a registered tag) is set.
    device_id: Mapped[int | None] = mapped_column(Integer)
    tag_id: Mapped[int | None] = mapped_column(Integer)
    rssi: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[float] = mapped_column(Double)


class Visit(Base):
    """A shopper's time in a store, from entry until unheard for the visit timeout."""

    __tablename__ = "visits"
    __table_args__ = (
        # At most one open visit per shopper and store, enforced by the database so two
        # gateways' batches arriving at once cannot open two visits.
        Index(
            "uq_visits_open",
            "store_id",
            "shopper_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    started_at: Mapped[float] = mapped_column(Double)
    last_seen_at: Mapped[float] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)
    entry_zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))


class PresenceEvent(Base):
    """What presence fusion decided about a shopper: walk-by, entered, zone, curbside, exited."""

    __tablename__ = "presence_events"
    __table_args__ = (Index("ix_presence_events_store_at", "store_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    # a vocabulary.PresenceKind
    kind: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str | None] = mapped_column(String(100))  # the zone's or bay's name
    at: Mapped[float] = mapped_column(Double)
    confidence: Mapped[float] = mapped_column(Double)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    dwell_s: Mapped[float | None] = mapped_column(Double)  # zone_dwell: time spent in the zone


class PickupAlert(Base):
    """Staff must go to the door: a shopper with a ready order arrived."""

    __tablename__ = "pickup_alerts"
    __table_args__ = (UniqueConstraint("order_id", "visit_id"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("pickup_orders.id", ondelete="CASCADE"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # a vocabulary.AlertStatus
    raised_at: Mapped[float] = mapped_column(Double)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    confidence: Mapped[float] = mapped_column(Double)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    acknowledged_at: Mapped[float | None] = mapped_column(Double)
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    handed_over_at: Mapped[float | None] = mapped_column(Double)
    handed_over_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    closed_at: Mapped[float | None] = mapped_column(Double)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[float | None] = mapped_column(Double)


class HelpRequest(Base):
    """A shopper asked for help on the floor: the pickup alert lifecycle, without an order."""

    __tablename__ = "help_requests"
    __table_args__ = (
        Index("ix_help_requests_store_id_status", "store_id", "status"),
        # At most one open request per shopper and store: a second tap returns the first.
        Index(
            "uq_help_requests_open_per_shopper",
            "store_id",
            "shopper_id",
            unique=True,
            sqlite_where=text(OPEN_HELP),
            postgresql_where=text(OPEN_HELP),
        ),
        {"sqlite_autoincrement": True},  # ids reach phones: never reused
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20))  # a vocabulary.HelpStatus
    raised_at: Mapped[float] = mapped_column(Double)
    acknowledged_at: Mapped[float | None] = mapped_column(Double)
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    closed_at: Mapped[float | None] = mapped_column(Double)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[float | None] = mapped_column(Double)


class Coupon(Base):
    """A shopper's time-limited offer; redeemed at most once, never after `expires_at`."""

    __tablename__ = "coupons"
    __table_args__ = {"sqlite_autoincrement": True}  # ids reach phones: never reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(40))  # pickup_thanks | campaign
    offer: Mapped[str] = mapped_column(String(200))
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off_cents: Mapped[int | None] = mapped_column(Integer)  # in the store's currency
    product_scope: Mapped[str | None] = mapped_column(String(200))  # None: the whole store
    issued_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)
    redeemed_at: Mapped[float | None] = mapped_column(Double)
    redeemed_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    # The campaign version that issued it (None for pickup thanks): an edit makes a new
    # version, so a coupon keeps the terms it was issued under.
    campaign_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_versions.id", ondelete="SET NULL")
    )


class RedemptionAudit(Base):
    """Who redeemed a coupon or undid a redemption, and when (an undo clears the coupon's
    `redeemed_at`, so this is where the redemption it reversed stays on record)."""

    __tablename__ = "redemption_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))  # redeemed | undone
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    at: Mapped[float] = mapped_column(Double)
    # For an undo: when the reversed redemption happened.
    redeemed_at: Mapped[float | None] = mapped_column(Double)


class Survey(Base):
    """The one-question survey (0 to 10) after a pickup or visit."""

    __tablename__ = "surveys"
    __table_args__ = {"sqlite_autoincrement": True}  # ids reach phones: never reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("pickup_orders.id", ondelete="SET NULL")
    )
    help_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("help_requests.id", ondelete="SET NULL")
    )
    sent_at: Mapped[float] = mapped_column(Double)
    answered_at: Mapped[float | None] = mapped_column(Double)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(1000))


class Campaign(Base):
    """A store's campaign: its stable identity (holdout, caps); the terms live in versions."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Double)


class CampaignVersion(Base):
    """One edit of a campaign's terms; the highest version is current, older ones stay."""

    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # walk_by | entered | zone_dwell | exited | pickup_handed_over | survey_answered
    trigger: Mapped[str] = mapped_column(String(30))
    zone: Mapped[str | None] = mapped_column(String(100))  # zone_dwell: the zone's name
    min_dwell_s: Mapped[float | None] = mapped_column(Double)
    # Who may get it (schemas.AudienceIn as JSON); None: every opted-in shopper.
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    offer_text: Mapped[str] = mapped_column(String(200))
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off_cents: Mapped[int | None] = mapped_column(Integer)  # in the store's currency
    product_scope: Mapped[str | None] = mapped_column(String(200))  # None: the whole store
    # Exactly one of the two: minutes from issue, or a fixed end (Unix seconds).
    valid_minutes: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[float | None] = mapped_column(Double)
    starts_at: Mapped[float] = mapped_column(Double)
    ends_at: Mapped[float | None] = mapped_column(Double)
    # Within start and end, only these ISO weekdays (1 = Monday) and this daily window, both
    # in the store's time zone; None: every day, all day ("HH:MM", end exclusive).
    days: Mapped[list[int] | None] = mapped_column(JSON)
    daily_start: Mapped[str | None] = mapped_column(String(5))
    daily_end: Mapped[str | None] = mapped_column(String(5))
    channels: Mapped[list[str]] = mapped_column(JSON)  # preference order
    holdout_share: Mapped[float] = mapped_column(Double, default=0.0)
    max_per_shopper: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)


class CampaignDecision(Base):
    """Every decision about a campaign and a shopper, with its outcome and reason."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_shopper_outcome_at", "shopper_id", "outcome", "decided_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    campaign_version_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_versions.id", ondelete="CASCADE")
    )
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))  # one of decide.OUTCOMES
    channel: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(300))
    decided_at: Mapped[float] = mapped_column(Double)
    hold_until: Mapped[float | None] = mapped_column(Double)
    # A quiet_hours decision is re-decided once when they end: this marks it done.
    released_at: Mapped[float | None] = mapped_column(Double)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id", ondelete="SET NULL"))


class Delivery(Base):
    """One message to one shopper through the channel router: attempts, outcome and "seen".

    The table is the outbound queue: a row is written `queued` with what it says before the
    message leaves, so the sweep can send what a crash or a busy provider left behind.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_next_try_at", "status", "next_try_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Opaque, in the payload: the device reports "seen" with it.
    message_id: Mapped[str] = mapped_column(String(32), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    shopper_id: Mapped[int] = mapped_column(ForeignKey("shoppers.id", ondelete="CASCADE"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))  # coupon | pickup
    # queued | delivered | failed_permanent | failed_retryable (channels.DeliveryStatus)
    status: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(20))  # the one that delivered
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # channel, status, reason
    created_at: Mapped[float] = mapped_column(Double)
    delivered_at: Mapped[float | None] = mapped_column(Double)
    seen_at: Mapped[float | None] = mapped_column(Double)
    # Kept for the shopper's inbox (offers; not pickup texts), shown from `notification`.
    inbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What it says (channels.Notification.payload()) and the decided channel order; None on
    # rows from before migration 0014, which are never re-sent.
    notification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channels: Mapped[list[str] | None] = mapped_column(JSON)
    # Routes tried so far; when the next may start (failed_retryable: backoff or Retry-After);
    # when a sender took it (a conditional UPDATE: one sender per try, never two).
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_try_at: Mapped[float | None] = mapped_column(Double)
    claimed_at: Mapped[float | None] = mapped_column(Double)


class StaffNoticeRecord(Base):
    """One work message to one staffer (an escalation to a manager away from the console), on
    record before it leaves so a failed send is tried again like a shopper's message.

    No address is kept: each try reads the staffer's current one (e-mail, escalation phone,
    newest push subscription) and sends only if the staffer still chose this channel.
    """

    __tablename__ = "staff_notices"
    __table_args__ = (Index("ix_staff_notices_status_next_try_at", "status", "next_try_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # staff_notices.new_notice_id
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))  # push | sms | email
    # queued | sending | delivered | failed_retryable | failed_permanent, as `deliveries`
    status: Mapped[str] = mapped_column(String(20))
    notification: Mapped[dict[str, Any]] = mapped_column(JSON)  # Notification.payload()
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # status, reason
    created_at: Mapped[float] = mapped_column(Double)
    delivered_at: Mapped[float | None] = mapped_column(Double)
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_try_at: Mapped[float | None] = mapped_column(Double)
    claimed_at: Mapped[float | None] = mapped_column(Double)


class Lease(Base):
    """A named lease one process holds until `expires_at` (the sweep's: one scheduler runs)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[float] = mapped_column(Double)

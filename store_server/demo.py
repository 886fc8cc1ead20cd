"""The demo store: layout, gateways, beacons, three opted-in shoppers, staff and a manager."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from store_server.accounts.auth import token_digest
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.database import Database
from store_server.db.models import (
    Beacon,
    IntegrationToken,
    PickupOrder,
    Shopper,
    Zone,
)
from store_server.engagement.campaigns import create_campaign
from store_server.presence.gateways import register_gateway
from store_server.shoppers.enrolment import enrol_shopper

DEMO_ZONES = [
    ("entrance", "entrance", "front door"),
    ("dresses", "zone", "dresses"),
    ("shoes", "zone", "shoes"),
    ("bay-1", "bay", "curbside bay 1"),
]
# Gateway ids match the simulated store's gateways (firmware_sim's built-in scenarios).
DEMO_GATEWAYS = [("gw-entrance", "entrance"), ("gw-floor", "dresses")]
DEMO_BEACONS = [
    ("ibeacon", "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:1", "entrance"),
    ("ibeacon", "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:2", "dresses"),
    ("eddystone_uid", "12345678901234678901:000000000003", "shoes"),
]
# (scenario person, first name, e-mail, order status or None)
DEMO_SHOPPERS = [
    ("maria", "Maria", "maria@example.com", "ready"),
    ("leo", "Leo", "leo@example.com", None),
    ("ana", "Ana", "ana@example.com", "placed"),
]


# `make demo` only (`seed-demo --showcase`): the passer-by of the demo scenario is an opted-in
# shopper too, and one campaign per presence trigger the scenario plays. Each campaign is for
# one shopper (a profile attribute), so the one-offer-per-visit cap hides none of them.
SHOWCASE_PASSER = ("passer", "Pat")
SHOWCASE_AUDIENCE = "demo"  # the attribute naming which campaign a demo shopper gets
SHOWCASE_CAMPAIGNS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "leo",
        "Welcome in: 15 % off today",
        {"trigger": "entered", "offer_text": "15 % off anything today", "percent_off": 15},
    ),
    (
        "ana",
        "Dresses: 20 % for lingering",
        {
            "trigger": "zone_dwell",
            "zone": "dresses",
            "min_dwell_s": 30.0,
            "offer_text": "20 % off dresses for the next hour",
            "percent_off": 20,
            "product_scope": "dresses",
        },
    ),
    (
        "passer",
        "Passing by: a free coffee",
        {"trigger": "walk_by", "offer_text": "A free coffee if you pop in today"},
    ),
]


DEMO_ITEMS = [
    {"sku": "DR-204", "name": "Linen summer dress", "qty": 1},
    {"sku": "SC-11", "name": "Silk scarf", "qty": 2},
]


@dataclass(frozen=True)
class DemoOrder:
    """A pickup order to give a seeded shopper."""

    external_id: str
    number: str
    status: str
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class SeededShopper:
    """An opted-in shopper made for a demo, a test or a bench, and what their phone keeps."""

    shopper_id: int
    identity_key: bytes
    device_token: str
    rotation_exponent: int

    def phone(self, person: str) -> dict[str, Any]:
        """The entry of the simulator's phones file for the scenario person carrying it."""
        return {
            "person": person,
            "identity_key": self.identity_key.hex(),
            "rotation_exponent": self.rotation_exponent,
        }


def add_opted_in_shopper(
    session: Session,
    store_id: int,
    first_name: str,
    now: float,
    *,
    email: str | None = None,
    timezone: str = "UTC",
    purposes: tuple[str, ...] = ("arrival", "offers"),
    order: DemoOrder | None = None,
) -> SeededShopper:
    """A shopper who opted in through the app (in-app channel), with a device and maybe an order."""
    enrolled = enrol_shopper(
        session,
        store_id,
        first_name,
        now,
        email=email,
        timezone=timezone,
        consents=[(purpose, "app") for purpose in purposes],
    )
    if order is not None:
        session.add(
            PickupOrder(
                store_id=store_id,
                shopper_id=enrolled.shopper_id,
                external_id=order.external_id,
                number=order.number,
                status=order.status,
                items=order.items,
                updated_at=now,
            )
        )
    return SeededShopper(
        enrolled.shopper_id,
        enrolled.identity_key,
        enrolled.device_token,
        enrolled.rotation_exponent,
    )


@dataclass(frozen=True)
class DemoSeed:
    """What the demo launcher needs: tokens for the gateways, keys for the phones, log-ins."""

    store_id: int
    gateway_tokens: dict[str, str]
    phones: list[dict[str, Any]]
    accounts: list[dict[str, str]]
    device_tokens: dict[str, str]
    integration_token: str

    def as_json(self) -> dict[str, Any]:
        """The seed as JSON (written to var/, never logged)."""
        return {
            "store_id": self.store_id,
            "gateway_tokens": self.gateway_tokens,
            "phones": self.phones,
            "accounts": self.accounts,
            "device_tokens": self.device_tokens,
            "integration_token": self.integration_token,
        }


# Where the demo's shoppers reach a person: Ofcom's drama range and a reserved domain.
DEMO_STORE_PHONE = "+44 20 7946 0000"
DEMO_STORE_WEB_PAGE = "https://demo-store.example/help"


def seed_demo(
    db: Database, now: float, *, showcase: bool = False, shopper_timezone: str = "Europe/London"
) -> DemoSeed:
    """Create the demo store in an empty, migrated database.

    Args:
        showcase: also the passer-by as a shopper and the showcase campaigns (`make demo`).
        shopper_timezone: where the demo shoppers live: quiet hours are theirs.
    """
    gateway_tokens: dict[str, str] = {}
    phones: list[dict[str, Any]] = []
    accounts: list[dict[str, str]] = []
    device_tokens: dict[str, str] = {}
    shopper_ids: dict[str, int] = {}
    integration_token = secrets.token_urlsafe(24)
    with db.transaction() as session:
        # USD, the schema's default, which the demo's offers have always been written in.
        store = create_store(
            session,
            "Demo Store, High Street",
            "Europe/London",
            "USD",
            "en-GB",
            help_phone=DEMO_STORE_PHONE,
            help_url=DEMO_STORE_WEB_PAGE,
        )
        zones = {
            name: Zone(store_id=store.id, name=name, kind=kind, label=label)
            for name, kind, label in DEMO_ZONES
        }
        session.add_all(zones.values())
        session.flush()
        for gateway_id, zone_name in DEMO_GATEWAYS:
            gateway_tokens[gateway_id] = register_gateway(
                session, gateway_id, store.id, zones[zone_name].id
            )
        for kind, identifier, zone_name in DEMO_BEACONS:
            session.add(
                Beacon(
                    store_id=store.id, zone_id=zones[zone_name].id, kind=kind, identifier=identifier
                )
            )
        for index, (person, first_name, email, order_status) in enumerate(DEMO_SHOPPERS, 1):
            order = None
            if order_status:
                order = DemoOrder(f"demo-{index}", f"10{index:02d}", order_status, DEMO_ITEMS)
            added = add_opted_in_shopper(
                session,
                store.id,
                first_name,
                now,
                email=email,
                timezone=shopper_timezone,
                order=order,
            )
            device_tokens[person] = added.device_token
            shopper_ids[person] = added.shopper_id
            phones.append(added.phone(person))
        if showcase:
            person, first_name = SHOWCASE_PASSER
            added = add_opted_in_shopper(
                session, store.id, first_name, now, timezone=shopper_timezone
            )
            device_tokens[person] = added.device_token
            shopper_ids[person] = added.shopper_id
            phones.append(added.phone(person))
            _showcase_campaigns(session, store.id, shopper_ids, now)
        for email, name, role in (
            ("sam@demo.store", "Sam", "staff"),
            ("morgan@demo.store", "Morgan", "manager"),
        ):
            password = secrets.token_urlsafe(9)
            add_staff(session, [store.id], email, name, role, password)
            accounts.append({"email": email, "password": password, "role": role})
        session.add(
            IntegrationToken(
                token_sha256=token_digest(integration_token),
                store_id=store.id,
                name="demo order system",
                created_at=now,
            )
        )
        session.flush()
        store_id = store.id
    return DemoSeed(store_id, gateway_tokens, phones, accounts, device_tokens, integration_token)


def _showcase_campaigns(
    session: Session, store_id: int, shopper_ids: dict[str, int], now: float
) -> None:
    """The showcase campaigns, each for the one demo shopper its audience attribute names."""
    for person, name, terms in SHOWCASE_CAMPAIGNS:
        shopper = session.get(Shopper, shopper_ids[person])
        assert shopper is not None  # noqa: S101 - enrolled just above
        shopper.attributes = {SHOWCASE_AUDIENCE: person}
        create_campaign(
            session,
            store_id,
            name,
            {
                "audience": {"attributes": {SHOWCASE_AUDIENCE: person}},
                "valid_minutes": 60,
                "starts_at": now,
                "channels": ["app", "push"],
                **terms,
            },
            now,
        )

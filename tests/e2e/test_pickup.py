"""Pickups end to end: the real server, simulator and gateways; staff and shopper live clients."""

from __future__ import annotations

import secrets
import time

import pytest
import requests
from sqlalchemy import select

from bench.stack import Stack
from store_server.accounts.auth import token_digest
from store_server.db.database import Database
from store_server.db.models import (
    CustomerTag,
    Gateway,
    Zone,
)
from store_server.demo import DemoOrder, add_opted_in_shopper
from tests.live import LiveClient, login

pytestmark = pytest.mark.e2e
DEADLINE_S = 40.0
CARLA_TAG = "e2c56db5-dffb-48d2-b060-d0f5a71096e0:7:1"  # her car's iBeacon in `curbside`


def staff(stack: Stack) -> tuple[LiveClient, dict[str, str]]:
    """A live staff client and the staffer's API headers."""
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    return LiveClient(stack.url, {"token": sam["token"]}), {
        "Authorization": f"Bearer {sam['token']}"
    }


def test_acknowledgement_reaches_the_shoppers_app(stack: Stack) -> None:
    tablet, headers = staff(stack)
    app = LiveClient(stack.url, {"device_token": stack.seed["device_tokens"]["maria"]})
    try:
        stack.start_sim("pickup-door", "--seed", "11")
        stack.start_gateway("gw-entrance")
        [arrival] = tablet.wait_for_arrival(DEADLINE_S)
        response = requests.post(
            f"{stack.url}/api/v1/stores/{arrival['store_id']}/alerts/{arrival['alert_id']}/acknowledge",
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200
        [update] = app.wait_for("pickup_update", 10)
        assert (update["status"], update["staff_first_name"]) == ("on_the_way", "Sam")
        [seen] = tablet.wait_for("alert_updated", 10)
        assert seen["acknowledged_by"] == "Sam"
    finally:
        tablet.close()
        app.close()


def add_carla(stack: Stack) -> str:
    """Carla: opted in, her car tag registered, an order ready; the store's curbside gateway."""
    db = Database(stack.database_url)
    now = time.time()
    gateway_token = secrets.token_urlsafe(16)
    with db.transaction() as session:
        store_id = stack.seed["store_id"]
        bay = session.scalars(
            select(Zone).where(Zone.store_id == store_id, Zone.name == "bay-1")
        ).one()
        session.add(
            Gateway(
                id="gw-curbside",
                store_id=store_id,
                zone_id=bay.id,
                token_sha256=token_digest(gateway_token),
                rssi_offset_db=0.0,
            )
        )
        carla = add_opted_in_shopper(
            session,
            store_id,
            "Carla",
            now,
            email="carla@example.com",
            purposes=("arrival",),
            order=DemoOrder("curb-1", "2042", "ready", [{"name": "Garden chair", "qty": 2}]),
        )
        session.add(
            CustomerTag(
                shopper_id=carla.shopper_id,
                kind="ibeacon",
                identifier=CARLA_TAG,
                label="car tag",
                created_at=now,
            )
        )
    db.dispose()
    stack.seed["gateway_tokens"]["gw-curbside"] = gateway_token
    return carla.device_token


def test_curbside_car_tag_alerts_staff_and_her_app_hears_who_is_coming(stack: Stack) -> None:
    carla_token = add_carla(stack)
    tablet, headers = staff(stack)
    app = LiveClient(stack.url, {"device_token": carla_token})
    try:
        stack.start_sim("curbside", "--seed", "4")
        stack.start_gateway("gw-curbside")
        arrivals = tablet.wait_for_arrival(DEADLINE_S)
        assert [(a["first_name"], a["order_number"], a["where"]) for a in arrivals] == [
            ("Carla", "2042", "curbside bay 1")
        ]
        assert arrivals[0]["reasons"][0]["signal"] == "customer_tag"
        response = requests.post(
            f"{stack.url}/api/v1/stores/{arrivals[0]['store_id']}/alerts/"
            f"{arrivals[0]['alert_id']}/acknowledge",
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200
        [update] = app.wait_for("pickup_update", 10)
        assert update["status"] == "on_the_way"
    finally:
        tablet.close()
        app.close()

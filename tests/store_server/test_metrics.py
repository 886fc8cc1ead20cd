"""`/metrics`: every series operators are promised, and counts that move when things happen."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from store_server.accounts.auth import device_for_token
from store_server.messaging.channels import Contact, Notification
from store_server.messaging.outbound import new_message_id, queue_delivery
from store_server.settings import DEFAULT_ALERT_EXPIRY_S
from store_server.sweep import run_sweep
from store_server.vocabulary import Channel
from store_server.web.context import services
from store_server.web.realtime import socketio
from tests.store_server.conftest import World, observation

SERIES = {
    "store_gateway_batches": "counter",
    "store_observations": "counter",
    "store_arrival_to_alert_seconds": "histogram",
    "store_pickup_alerts": "counter",
    "store_delivery_attempts": "counter",
    "store_delivery_timeouts": "counter",
    "store_staff_notices": "counter",
    "store_outbound_queue_depth": "gauge",
    "store_outbound_retry_depth": "gauge",
    "store_connected_sockets": "gauge",
    "store_gateway_heartbeat_age_seconds": "gauge",
    "store_sweep_duration_seconds": "histogram",
}


def scrape(world: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    response = world.client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """One sample's value; 0 when the series has no such child yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_name_every_promised_series(world: World) -> None:
    text = world.client().get("/metrics").get_data(as_text=True)
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert {name: families.get(name) for name in SERIES} == SERIES


def test_a_batch_and_an_arrival_move_the_counts(world: World) -> None:
    before = scrape(world)
    world.arrive("maria")
    now = time.time()
    unknown = observation("00112233445566ff", -50, now)
    world.upload("gw-entrance", [unknown], batch_id="same")
    assert world.upload("gw-entrance", [unknown], batch_id="same").status_code == 409
    after = scrape(world)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("store_gateway_batches_total", outcome="accepted", reason="") == 2
    assert moved("store_gateway_batches_total", outcome="ignored", reason="duplicate_batch") == 1
    assert moved("store_observations_total", outcome="accepted", reason="") == 2
    assert moved("store_observations_total", outcome="ignored", reason="unresolved") == 1
    assert moved("store_pickup_alerts_total", event="raised") == 1
    assert moved("store_arrival_to_alert_seconds_count") == 1


def test_sweep_expiry_and_sockets_are_counted(world: World) -> None:
    world.arrive("maria")
    tablet = socketio.test_client(world.app, auth={"token": world.login()["token"]})
    before = scrape(world)
    assert value(before, "store_connected_sockets", kind="staff") >= 1
    later = time.time() + DEFAULT_ALERT_EXPIRY_S + 60
    world.clock.now = lambda: later
    run_sweep(services(world.app))
    tablet.disconnect()
    after = scrape(world)
    assert (
        value(after, "store_pickup_alerts_total", event="expired")
        - value(before, "store_pickup_alerts_total", event="expired")
        == 1
    )
    assert value(after, "store_sweep_duration_seconds_count") > value(
        before, "store_sweep_duration_seconds_count"
    )
    assert (
        value(after, "store_connected_sockets", kind="staff")
        == value(before, "store_connected_sockets", kind="staff") - 1
    )


def test_heartbeat_age_is_per_gateway(world: World) -> None:
    beat = {
        "sent_at": time.time(),
        "version": "test",
        "adapter_state": "scanning",
        "adverts_per_s": 3.0,
        "devices_tracked": 1,
        "outbox_depth": 0,
        "dropped": {},
    }
    response = world.client().post(
        "/api/v1/gateways/gw-entrance/heartbeat",
        json=beat,
        headers={"Authorization": f"Bearer {world.seed.gateway_tokens['gw-entrance']}"},
    )
    assert response.status_code == 202
    later = time.time() + 90
    world.clock.now = lambda: later
    samples = scrape(world)
    age = value(
        samples,
        "store_gateway_heartbeat_age_seconds",
        gateway="gw-entrance",
        store=str(world.seed.store_id),
    )
    assert 89 <= age <= 120


def test_a_delivery_is_counted_by_channel_and_outcome_and_the_queue_drains(world: World) -> None:
    world.open_page("leo")
    device = device_for_token(world.db, world.seed.device_tokens["leo"])
    assert device is not None
    before = scrape(world)
    with world.db.transaction() as session:
        job = queue_delivery(
            session,
            world.seed.store_id,
            Contact(shopper_id=device.shopper_id),
            Notification(new_message_id(), "offer", "A title", "A body"),
            (Channel.APP,),
            time.time(),
        )
    queued = scrape(world)
    found = services(world.app)
    found.outbound.submit(job)
    assert found.outbound.wait_idle(15.0)
    after = scrape(world)
    assert (
        value(queued, "store_outbound_queue_depth")
        == value(before, "store_outbound_queue_depth") + 1
    )
    assert value(after, "store_outbound_queue_depth") == value(before, "store_outbound_queue_depth")
    delivered = {"channel": "app", "outcome": "delivered"}
    assert (
        value(after, "store_delivery_attempts_total", **delivered)
        == value(before, "store_delivery_attempts_total", **delivered) + 1
    )

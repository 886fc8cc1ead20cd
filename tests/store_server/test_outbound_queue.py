"""The deliveries table is the outbound queue: what a crash or a busy provider leaves behind is
re-decided and sent by the sweep, at start-up too, at most once per message."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from bench.stack import free_port
from store_server.db.models import Delivery, PickupOrder
from store_server.messaging.outbound import (
    FIRST_RETRY_S,
    MAX_TRIES,
    SENDING_STALE_S,
    next_try_at,
)
from store_server.serving import listening_line
from store_server.sweep import sweep
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.support.polling import wait_until
from tests.support.sms_provider import FROM, SID, SmsProvider, sms_provider

STORE_SERVER = Path(sys.executable).with_name("store-server")
PHONES = ("+14155550101", "+14155550102", "+14155550103")


def test_backoff_grows_then_gives_up_and_retry_after_can_only_lengthen_it() -> None:
    delays = [next_try_at(tries, None, 1000.0) for tries in range(1, MAX_TRIES + 1)]
    assert delays[0] == 1000.0 + FIRST_RETRY_S
    waits = [d - 1000.0 for d in delays if d is not None]
    assert waits == sorted(waits) and len(waits) == MAX_TRIES - 1
    assert delays[-1] is None  # given up
    assert next_try_at(1, 600.0, 1000.0) == 1600.0  # the provider's Retry-After wins
    assert next_try_at(1, 1.0, 1000.0) == 1000.0 + FIRST_RETRY_S  # never sooner than backoff


@pytest.fixture
def provider() -> Iterator[SmsProvider]:
    with sms_provider() as state:
        yield state


def deliveries(world: World) -> list[Delivery]:
    with world.db.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_a_busy_provider_is_retried_after_its_retry_after_and_sent_once(
    world: World, provider: SmsProvider
) -> None:
    provider.busy = 1
    settings = services(world.app).settings.model_copy(
        update=dict(sms_base_url=provider.base_url, sms_account_sid=SID, sms_from=FROM)
    )
    from store_server.app import create_app

    app = create_app(settings, world.clock)
    try:
        client = app.test_client()
        tokens = [opt_in_by_sms(client, world, phone) for phone in PHONES[:1]]
        acknowledge_arrivals(client, world, tokens)
        outbound = services(app).outbound
        assert outbound.wait_idle(30)
        [row] = deliveries(world)
        assert (row.status, row.tries) == ("failed_retryable", 1)
        assert row.next_try_at is not None and row.claimed_at is not None
        # Retry-After (120 s) counted from when the refusal was recorded, after the claim.
        assert 120 <= row.next_try_at - row.claimed_at < 180
        # Not before its time, then once.
        retry_at = row.next_try_at
        assert sweep(world.db, settings, retry_at - 1, outbound.reach).jobs == []
        world.clock.now = lambda: retry_at + 1
        due = sweep(world.db, settings, world.clock(), outbound.reach)
        outbound.submit_all(due.jobs + due.jobs)  # a duplicate submission sends nothing more
        assert outbound.wait_idle(30)
        [row] = deliveries(world)
        assert (row.status, row.tries, row.channel) == ("delivered", 2, "sms")
        assert len(provider.bodies()) == 2  # the refused try and the one that went
        later = sweep(world.db, settings, retry_at + 3600, outbound.reach)
        assert later.jobs == []
    finally:
        services(app).outbound.stop()
        services(app).publisher.stop()
        services(app).db.dispose()


def test_a_message_claimed_by_a_process_that_died_is_closed_never_resent(world: World) -> None:
    with world.db.transaction() as session:
        from store_server.db.models import Shopper

        shopper = session.scalars(select(Shopper)).first()
        assert shopper is not None
        session.add(
            Delivery(
                message_id="f" * 32,
                store_id=world.seed.store_id,
                shopper_id=shopper.id,
                kind="pickup_update",
                status="sending",
                attempts=[],
                created_at=1000.0,
                claimed_at=1000.0,
                tries=1,
                notification={"id": "f" * 32, "kind": "pickup_update", "title": "t", "body": "b"},
                channels=["sms"],
            )
        )
    settings = services(world.app).settings
    reach = services(world.app).outbound.reach
    assert sweep(world.db, settings, 1000.0 + SENDING_STALE_S - 1, reach).jobs == []
    assert deliveries(world)[0].status == "sending"  # perhaps still on its way
    assert sweep(world.db, settings, 1000.0 + SENDING_STALE_S + 1, reach).jobs == []
    [row] = deliveries(world)
    assert row.status == "failed_permanent" and "interrupted" in row.attempts[-1]["reason"]


def test_an_expired_message_left_queued_is_dropped_not_sent(world: World) -> None:
    with world.db.transaction() as session:
        from store_server.db.models import Shopper

        shopper = session.scalars(select(Shopper)).first()
        assert shopper is not None
        session.add(
            Delivery(
                message_id="e" * 32,
                store_id=world.seed.store_id,
                shopper_id=shopper.id,
                kind="coupon",
                status="queued",
                attempts=[],
                created_at=1000.0,
                notification={
                    "id": "e" * 32,
                    "kind": "coupon",
                    "title": "t",
                    "body": "b",
                    "expires_at": 2000.0,
                },
                channels=["app", "push"],
            )
        )
    settings = services(world.app).settings
    assert sweep(world.db, settings, 2001.0, services(world.app).outbound.reach).jobs == []
    [row] = deliveries(world)
    assert row.status == "failed_permanent" and "expired" in row.attempts[-1]["reason"]


# --- a real server killed with SIGKILL between commit and send --------------------------------


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The servers a test starts, each in a process group of its own (gunicorn's master and
    its worker); whatever still runs is killed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def serve(
    servers: list[subprocess.Popen[bytes]],
    world: World,
    tmp_path: Path,
    provider: SmsProvider,
    *,
    scheduler: bool,
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `store-server run` on the world's database; its URL and process once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_")}
    env.update(
        STORE_DATABASE_URL=world.db.url,
        STORE_VAR_DIR=str(tmp_path / "var"),
        STORE_SECRET_KEY="test-secret",
        STORE_PORT=str(port),
        STORE_SMS_BASE_URL=provider.base_url,
        STORE_SMS_ACCOUNT_SID=SID,
        STORE_SMS_FROM=FROM,
        STORE_RUN_SCHEDULER="1" if scheduler else "0",
        STORE_SWEEP_INTERVAL_S="0.5",
    )
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(STORE_SERVER), "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    servers.append(process)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if listening_line("127.0.0.1", port) not in log_path.read_text():
            return process.poll() is not None  # until then, the port may be another's
        try:
            return requests.get(f"{url}/healthz", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # still starting, or busy
            return process.poll() is not None  # died: stop waiting, the assert says so

    assert wait_until(answers, 60), "the server did not start"
    assert process.poll() is None, log_path.read_text()
    return url, process


class Http:
    """A requests session against one server, shaped like Flask's test client."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.post(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def put(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.put(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def opt_in_by_sms(client: object, world: World, phone: str) -> str:
    """A shopper who chose arrival texts, with a ready order linked to her; her device token."""
    body = {
        "store_id": world.seed.store_id,
        "first_name": "Tess",
        "phone": phone,
        "consents": [{"purpose": "arrival", "channel": "sms"}],
    }
    joined = client.post("/api/v1/optin", json=body)  # type: ignore[attr-defined]
    answer = joined.json() if isinstance(joined, requests.Response) else joined.get_json()
    order = f"pos-{phone[-3:]}"
    client.put(  # type: ignore[attr-defined]
        f"/api/v1/stores/{world.seed.store_id}/orders/{order}",
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
        json={"number": phone[-3:], "status": "ready", "items": [{"name": "Lamp"}]},
    )
    with world.db.transaction() as session:
        session.execute(
            update(PickupOrder)
            .where(PickupOrder.external_id == order)
            .values(shopper_id=answer["shopper_id"])
        )
    return str(answer["device_token"])


def acknowledge_arrivals(client: object, world: World, tokens: list[str]) -> None:
    """Each shopper checks in; Sam taps "on my way" on each alert (one text each)."""
    store = world.seed.store_id
    staff = world.staff_headers()
    for token in tokens:
        client.post(  # type: ignore[attr-defined]
            "/api/v1/me/checkin",
            json={"store_id": store},
            headers={"Authorization": f"Bearer {token}"},
        )
    listed = client.get(f"/api/v1/stores/{store}/arrivals", headers=staff)  # type: ignore[attr-defined]
    arrivals = (listed.json() if isinstance(listed, requests.Response) else listed.get_json())[
        "arrivals"
    ]
    assert len(arrivals) == len(tokens)
    for alert in arrivals:
        done = client.post(  # type: ignore[attr-defined]
            f"/api/v1/stores/{store}/alerts/{alert['alert_id']}/acknowledge", headers=staff
        )
        assert done.status_code == 200


def test_the_queue_survives_a_kill_9_between_commit_and_send(
    world: World, provider: SmsProvider, tmp_path: Path, servers: list[subprocess.Popen[bytes]]
) -> None:
    provider.hold_first = True
    url, first = serve(servers, world, tmp_path, provider, scheduler=False)
    client = Http(url)
    tokens = [opt_in_by_sms(client, world, phone) for phone in PHONES]
    acknowledge_arrivals(client, world, tokens)
    # The worker is stuck in the provider with the first text; the other two are committed,
    # queued behind it, unsent.
    assert wait_until(lambda: len(provider.bodies()) == 1, 30)
    statuses = sorted(row.status for row in deliveries(world))
    assert statuses == ["queued", "queued", "sending"]
    os.killpg(first.pid, signal.SIGKILL)  # gunicorn's master and its worker, as a crash would
    first.wait(timeout=10)
    provider.released.set()

    serve(servers, world, tmp_path, provider, scheduler=True)
    assert wait_until(
        lambda: (
            sorted(r.status for r in deliveries(world)) == ["delivered", "delivered", "sending"]
        ),
        20,
    )
    # The two left queued went, once each; the one a sender had taken is not sent again.
    assert len(provider.bodies()) == 3
    assert all(r.tries == 1 for r in deliveries(world))

"""Raw readings go after STORE_RAW_RETENTION_DAYS (visits and events stay), in chunks that
resume; a manager exports or erases a shopper by e-mail or phone."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from store_server.cli import main
from store_server.db.models import (
    Chain,
    Device,
    Gateway,
    GatewayBatch,
    Observation,
    PresenceEvent,
    Shopper,
    Store,
    Visit,
)
from store_server.presence.retention import DAY_S, purge_raw
from store_server.sweep import sweep
from store_server.web.context import services
from tests.store_server.conftest import World

OLD, RECENT = 40, 7  # rows seeded older than three days, and within them


def seed_readings(world: World, now: float) -> None:
    """OLD readings and batch ids from 4 to 5 days ago, RECENT ones from today."""
    with world.db.transaction() as session:
        gateway = session.scalars(select(Gateway)).first()
        device = session.scalars(select(Device)).first()
        assert gateway is not None and device is not None
        ages = [4 * DAY_S + i * 60 for i in range(OLD)] + [i * 60.0 for i in range(RECENT)]
        for i, age in enumerate(ages):
            session.add(
                Observation(
                    store_id=world.seed.store_id,
                    gateway_id=gateway.id,
                    shopper_id=device.shopper_id,
                    device_id=device.id,
                    rssi=-60,
                    seen_at=now - age,
                )
            )
            session.add(
                GatewayBatch(
                    gateway_id=gateway.id,
                    batch_id=f"b-{i}",
                    received_at=now - age,
                    observation_count=1,
                )
            )


def counts(world: World) -> dict[str, int]:
    with world.db.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Observation, GatewayBatch, Visit, PresenceEvent, Shopper)
        }


def test_the_sweep_deletes_readings_past_retention_and_nothing_else(world: World) -> None:
    now = world.clock()
    seed_readings(world, now)
    world.arrive("maria")  # a visit and its events, which stay
    before = counts(world)
    settings = services(world.app).settings
    assert settings.raw_retention_days == 3
    result = sweep(world.db, settings, now)
    assert (result.purged.observations, result.purged.batches) == (OLD, OLD)
    after = counts(world)
    assert after["observations"] == before["observations"] - OLD
    assert after["gateway_batches"] == before["gateway_batches"] - OLD
    for kept in ("visits", "presence_events", "shoppers"):
        assert after[kept] == before[kept]
    with world.db.sessions() as session:
        oldest = session.scalar(select(func.min(Observation.seen_at)))
    assert oldest is not None and oldest >= now - 3 * DAY_S


def test_an_interrupted_purge_loses_nothing_else_and_resumes(world: World) -> None:
    now = world.clock()
    seed_readings(world, now)
    before = counts(world)
    first = purge_raw(world.db, now, 3, chunk=15, max_chunks=1)  # stopped after one chunk
    assert (first.observations, first.batches, first.finished) == (15, 15, False)
    middle = counts(world)
    assert middle["observations"] == before["observations"] - 15
    rest = purge_raw(world.db, now, 3, chunk=15, max_chunks=10)
    assert (rest.observations, rest.batches, rest.finished) == (OLD - 15, OLD - 15, True)
    assert counts(world)["observations"] == before["observations"] - OLD
    assert purge_raw(world.db, now, 3) == type(rest)(0, 0, True)


def test_the_phone_page_states_the_real_retention(world: World) -> None:
    page = world.client().get(f"/app?store={world.seed.store_id}").get_data(as_text=True)
    assert '<span id="raw-retention">3 days</span>' in page
    assert "a few days" not in page


@pytest.fixture
def store_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("STORE_DATABASE_URL", world.db.url)
    return world


def joined_with_phone(world: World, phone: str) -> int:
    answer = world.client().post(
        "/api/v1/optin",
        json={
            "store_id": world.seed.store_id,
            "first_name": "Tess",
            "pickup_phone": phone,
            "consents": [{"purpose": "arrival", "channel": "app"}],
        },
    )
    assert answer.status_code == 201, answer.get_json()
    return int(answer.get_json()["shopper_id"])


def test_a_manager_exports_then_erases_a_shopper_by_phone(
    store_env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    shopper_id = joined_with_phone(store_env, "+447700900123")
    store = str(store_env.seed.store_id)
    assert main(["export-shopper", "--store", store, "--phone", "+44 7700 900123"]) == 0
    [document] = json.loads(capsys.readouterr().out)
    assert document["shoppers"][0]["id"] == shopper_id
    assert main(["erase-shopper", "--store", store, "--phone", "0044 7700 900123"]) == 0
    assert capsys.readouterr().out == f"erased shopper {shopper_id}\n"
    with store_env.db.sessions() as session:
        assert session.get(Shopper, shopper_id) is None


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            ["erase-shopper", "--store", "STORE", "--phone", "+15555550199"],
            "no shopper of the chain has that e-mail or phone",
        ),
        (
            ["erase-shopper", "--store", "STORE", "--email", "nobody@example.com"],
            "no shopper of the chain has that e-mail or phone",
        ),
        (
            ["export-shopper", "--store", "STORE", "--phone", "07700 900123"],
            "--phone needs the country code",
        ),
        (
            ["export-shopper", "--chain", "Nowhere", "--email", "a@b.example"],
            "chain: no chain has this name",
        ),
        (["export-shopper", "--store", "999", "--email", "a@b.example"], "no store 999"),
    ],
)
def test_an_unknown_or_malformed_contact_is_status_2_and_one_line(
    store_env: World, capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    before = counts(store_env)
    assert main([arg.replace("STORE", str(store_env.seed.store_id)) for arg in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("store-server: " + problem) and captured.err.count("\n") == 1
    assert counts(store_env) == before


def test_both_or_neither_of_email_and_phone_is_refused(store_env: World) -> None:
    with pytest.raises(SystemExit) as neither:
        main(["erase-shopper", "--store", "1"])
    with pytest.raises(SystemExit) as both:
        main(
            ["erase-shopper", "--store", "1", "--email", "a@b.example", "--phone", "+447700900123"]
        )
    with pytest.raises(SystemExit) as no_chain:
        main(["erase-shopper", "--email", "a@b.example"])
    with pytest.raises(SystemExit) as two_chains:
        main(["erase-shopper", "--store", "1", "--chain", "X", "--email", "a@b.example"])
    assert neither.value.code == both.value.code == no_chain.value.code == 2
    assert two_chains.value.code == 2


def test_export_and_erasure_act_within_one_chain_never_on_the_same_address_elsewhere(
    store_env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same e-mail joined at two chains: two people's data, each reached only through
    her own chain (by a store of it or by its name)."""
    ids = {}
    for store_id in (store_env.seed.store_id, store_env.other_store_id):
        answer = store_env.client().post(
            "/api/v1/optin",
            json={
                "store_id": store_id,
                "first_name": "Bea",
                "email": "bea@example.com",
                "consents": [{"purpose": "offers", "channel": "email"}],
            },
        )
        assert answer.status_code == 201, answer.get_json()
        ids[store_id] = int(answer.get_json()["shopper_id"])
    assert len(set(ids.values())) == 2
    here, there = ids[store_env.seed.store_id], ids[store_env.other_store_id]
    with store_env.db.sessions() as session:
        other = session.get(Store, store_env.other_store_id)
        assert other is not None
        other_chain = session.get(Chain, other.chain_id)
        assert other_chain is not None
        other_chain_name = other_chain.name
    store = str(store_env.seed.store_id)
    assert main(["export-shopper", "--store", store, "--email", "BEA@example.com"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [d["shoppers"][0]["id"] for d in exported] == [here]
    assert main(["export-shopper", "--chain", other_chain_name, "--email", "bea@example.com"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [d["shoppers"][0]["id"] for d in exported] == [there]
    assert main(["erase-shopper", "--store", store, "--email", "bea@example.com"]) == 0
    assert capsys.readouterr().out == f"erased shopper {here}\n"
    with store_env.db.sessions() as session:
        assert session.get(Shopper, here) is None
        kept = session.get(Shopper, there)
        assert kept is not None and kept.email == "bea@example.com"
    # Nothing left of her at this chain; the other chain's Bea is untouched.
    assert main(["erase-shopper", "--store", store, "--email", "bea@example.com"]) == 2
    assert "no shopper of the chain" in capsys.readouterr().err

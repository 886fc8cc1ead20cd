"""A manager's store settings and staff accounts (`/api/v1/stores/<id>/{settings,staff}`):
validated field by field, and the offer rules read by the next decision."""

from __future__ import annotations

from typing import Any

import pytest

from tests.store_server.conftest import World
from tests.store_server.test_campaigns import (
    MANAGER,
    create,
    decisions,
    night_in_london,
    shopper_id,
    trigger,
)
from tests.support.seeding import OTHER_STAFF

SETTINGS = {
    "name": "Demo Store, High Street",
    "timezone": "Europe/London",
    "currency": "GBP",
    "ack_limit_s": 90,
    "second_escalation_s": 240,
    "quiet_start": "22:00",
    "quiet_end": "08:00",
    "max_offers_per_day": 2,
    "max_offers_per_visit": 1,
    "min_gap_s": 600,
    "help_phone": "+44 20 7946 0000",
    "help_url": "https://shop.example/help",
}


def settings_url(world: World) -> str:
    return f"/api/v1/stores/{world.seed.store_id}/settings"


def put(world: World, body: dict[str, Any]) -> Any:
    return world.client().put(settings_url(world), json=body, headers=world.staff_headers(MANAGER))


def test_a_manager_reads_and_changes_the_settings(world: World) -> None:
    manager = world.staff_headers(MANAGER)
    before = world.client().get(settings_url(world), headers=manager).get_json()
    assert (before["quiet_start"], before["quiet_end"], before["min_gap_s"]) == (
        "21:00",
        "09:00",
        1800,
    )
    changed = put(world, SETTINGS)
    assert changed.status_code == 200, changed.get_json()
    after = world.client().get(settings_url(world), headers=manager).get_json()
    assert after["help_phone"] == "+442079460000"
    assert {k: after[k] for k in SETTINGS if k != "help_phone"} == {
        k: v for k, v in SETTINGS.items() if k != "help_phone"
    }


def test_the_next_decision_uses_the_stores_quiet_hours(world: World) -> None:
    create(world, starts_at=1.0)
    # 23:30 in London is inside the default quiet hours (21:00-09:00) ...
    trigger(world, "leo", night_in_london())
    assert [d.outcome for d in decisions(world, shopper_id(world, "Leo"))] == ["quiet_hours"]
    # ... and, with no quiet hours (start equal to end), the next one is sent.
    assert put(world, {**SETTINGS, "quiet_start": "00:00", "quiet_end": "00:00"}).status_code == 200
    trigger(world, "ana", night_in_london())
    assert [d.outcome for d in decisions(world, shopper_id(world, "Ana"))] == ["sent"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "gbp"}, "currency"),
        ({"ack_limit_s": 5}, "ack_limit_s"),
        ({"second_escalation_s": 60}, "second_escalation_s"),  # before the first
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_end": "9am"}, "quiet_end"),
        ({"max_offers_per_day": -1}, "max_offers_per_day"),
        ({"max_offers_per_visit": 11}, "max_offers_per_visit"),
        ({"min_gap_s": 10**9}, "min_gap_s"),
        ({"help_phone": "020 7946 0000"}, "help_phone"),
        ({"help_url": "ftp://shop.example"}, "help_url"),
        ({"name": " "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_value_is_a_400_naming_its_field_and_changes_nothing(
    world: World, change: dict[str, Any], field: str
) -> None:
    before = world.client().get(settings_url(world), headers=world.staff_headers(MANAGER))
    refused = put(world, {**SETTINGS, **change})
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_body"
    assert [f["loc"][0] for f in error["details"]["fields"]] == [field]
    after = world.client().get(settings_url(world), headers=world.staff_headers(MANAGER))
    assert after.get_json() == before.get_json()


def test_only_the_stores_managers_see_or_change_it(world: World) -> None:
    staff = world.client().get(settings_url(world), headers=world.staff_headers())
    assert staff.status_code == 403
    other = f"/api/v1/stores/{world.other_store_id}/settings"
    assert world.client().get(other, headers=world.staff_headers(MANAGER)).status_code == 403
    assert world.client().put(settings_url(world), json=SETTINGS).status_code == 401


# --- staff accounts -------------------------------------------------------------------------


def staff_url(world: World, suffix: str = "") -> str:
    return f"/api/v1/stores/{world.seed.store_id}/staff{suffix}"


def log_in(world: World, email: str, password: str) -> int:
    answer = world.client().post("/api/v1/auth/login", json={"email": email, "password": password})
    return int(answer.status_code)


def test_a_manager_adds_resets_and_deactivates_an_account(world: World) -> None:
    manager = world.staff_headers(MANAGER)
    added = world.client().post(
        staff_url(world),
        json={
            "email": "Kim@Demo.Store",
            "name": "Kim",
            "role": "staff",
            "password": "first-pass1",
        },
        headers=manager,
    )
    assert added.status_code == 201, added.get_json()
    kim = added.get_json()
    assert (kim["email"], kim["active"]) == ("kim@demo.store", True)
    assert "password" not in kim and "password_hash" not in kim
    assert log_in(world, "kim@demo.store", "first-pass1") == 200
    listed = world.client().get(staff_url(world), headers=manager).get_json()["staff"]
    assert "kim@demo.store" in [a["email"] for a in listed]

    token = (
        world.client()
        .post("/api/v1/auth/login", json={"email": "kim@demo.store", "password": "first-pass1"})
        .get_json()["token"]
    )
    reset = world.client().post(
        staff_url(world, f"/{kim['id']}/password"),
        json={"password": "second-pass-2"},
        headers=manager,
    )
    assert reset.status_code == 200
    kims_tablet = {"Authorization": f"Bearer {token}"}
    arrivals = f"/api/v1/stores/{world.seed.store_id}/arrivals"
    assert world.client().get(arrivals, headers=kims_tablet).status_code == 401  # logged out
    assert log_in(world, "kim@demo.store", "first-pass1") == 401
    assert log_in(world, "kim@demo.store", "second-pass-2") == 200

    gone = world.client().post(staff_url(world, f"/{kim['id']}/deactivate"), headers=manager)
    assert gone.status_code == 200 and gone.get_json()["active"] is False
    assert log_in(world, "kim@demo.store", "second-pass-2") == 401


def test_staff_changes_are_refused_naming_the_problem(world: World) -> None:
    manager = world.staff_headers(MANAGER)
    body = {
        "email": "sam@demo.store",
        "name": "Sam 2",
        "role": "staff",
        "password": "long-enough-1",
    }
    taken = world.client().post(staff_url(world), json=body, headers=manager)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "email_taken"
    short = world.client().post(
        staff_url(world),
        json={**body, "email": "new@demo.store", "password": "short"},
        headers=manager,
    )
    assert short.status_code == 400
    assert short.get_json()["error"]["details"]["fields"][0]["loc"] == ["password"]
    bad_email = world.client().post(
        staff_url(world), json={**body, "email": "not an address"}, headers=manager
    )
    assert bad_email.get_json()["error"]["details"]["fields"][0]["loc"] == ["email"]
    me = world.login(MANAGER)["staff"]["id"]
    own = world.client().post(staff_url(world, f"/{me}/deactivate"), headers=manager)
    assert own.status_code == 409 and own.get_json()["error"]["code"] == "cannot_deactivate_self"
    # An account of another store is not found here (ids are not a way in).
    foreign = world.login(OTHER_STAFF[0])["staff"]["id"]
    assert (
        world.client().post(staff_url(world, f"/{foreign}/deactivate"), headers=manager).status_code
        == 404
    )
    staff = world.client().get(staff_url(world), headers=world.staff_headers())
    assert staff.status_code == 403

"""`make demo`'s store: an entry, a zone-dwell and a walk-by campaign, each reaching the demo
shopper it is meant for, and what the demo says about quiet hours."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bench.demo import daytime_timezone, quiet_hours_note
from store_server.accounts.auth import device_for_token
from store_server.db.database import Database
from store_server.db.models import Campaign, CampaignVersion, Coupon
from store_server.demo import seed_demo
from store_server.engagement import engine as engagement
from store_server.engagement.decide import DEFAULT_POLICY, quiet_hours_end
from tests.store_server.test_campaigns import PAGE_OPEN

LONDON = ZoneInfo("Europe/London")
TRIGGERS = {
    "leo": engagement.Trigger("entered", None),
    "ana": engagement.Trigger("zone_dwell", None, "dresses", 45.0),
    "passer": engagement.Trigger("walk_by", None),
}


def test_each_showcase_campaign_reaches_its_shopper_only(migrated_database_url: str) -> None:
    db = Database(migrated_database_url)
    now = time.time()
    timezone = daytime_timezone(now)
    seed = seed_demo(db, now, showcase=True, shopper_timezone=timezone)
    assert "passer" in {phone["person"] for phone in seed.phones}
    with db.sessions() as session:
        triggers = session.scalars(
            select(CampaignVersion.trigger).join(Campaign).where(Campaign.active.is_(True))
        ).all()
    assert sorted(triggers) == ["entered", "walk_by", "zone_dwell"]
    ids = {}
    for person in TRIGGERS:
        device = device_for_token(db, seed.device_tokens[person])
        assert device is not None
        ids[person] = device.shopper_id
    offered: dict[str, list[str]] = {}
    for trigger in TRIGGERS.values():
        for shopper in ids.values():  # every trigger for everyone: only the intended one gives
            with db.transaction() as session:
                engagement.on_trigger(session, seed.store_id, shopper, trigger, now, PAGE_OPEN)
    with db.sessions() as session:
        for person, shopper in ids.items():
            offered[person] = list(
                session.scalars(select(Coupon.offer).where(Coupon.shopper_id == shopper)).all()
            )
    db.dispose()
    assert offered == {
        "leo": ["15 % off anything today"],
        "ana": ["20 % off dresses for the next hour"],
        "passer": ["A free coffee if you pop in today"],
    }


def test_the_plain_demo_seed_has_no_campaigns(migrated_database_url: str) -> None:
    db = Database(migrated_database_url)
    seed = seed_demo(db, time.time())
    with db.sessions() as session:
        assert session.scalars(select(Campaign)).all() == []
    db.dispose()
    assert "passer" not in seed.device_tokens


@pytest.mark.parametrize("hour", range(24))
def test_daytime_is_early_afternoon_at_any_hour(hour: int) -> None:
    now = datetime(2026, 12, 6, hour, 40, tzinfo=ZoneInfo("UTC")).timestamp()
    zone = ZoneInfo(daytime_timezone(now))
    assert datetime.fromtimestamp(now, zone).hour == 13
    assert quiet_hours_note(now, daytime_timezone(now)) is None


def test_the_demo_says_when_quiet_hours_hold_offers_and_how_to_see_them() -> None:
    night = datetime(2026, 12, 6, 23, 40, tzinfo=LONDON).timestamp()
    note = quiet_hours_note(night, "Europe/London")
    assert note is not None
    assert note.startswith("It is 23:40 for the demo shoppers (Europe/London): quiet hours")
    assert "until 09:00" in note and "make demo DEMO_ARGS=--daytime" in note
    assert quiet_hours_end(night, LONDON, DEFAULT_POLICY) is not None
    noon = datetime(2026, 12, 6, 12, 0, tzinfo=LONDON).timestamp()
    assert quiet_hours_note(noon, "Europe/London") is None


def test_seed_demo_refuses_an_unknown_time_zone(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "store-server"), "seed-demo", "--out", str(tmp_path),
         "--showcase", "--shopper-timezone", "Mars/Olympus"],
        env={"STORE_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}", "PATH": "/usr/bin"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "store-server: unknown time zone 'Mars/Olympus'\n"

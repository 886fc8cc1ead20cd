"""The outbound pieces that need no peer: who is reachable, connection counting, e-mail URLs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from store_server.messaging.channels import Contact, PushSubscription
from store_server.messaging.channels.email import EmailConfig
from store_server.messaging.outbound import Reach, build_senders, vapid_subject
from store_server.settings import SettingsError, StoreSettings
from store_server.vocabulary import Channel
from store_server.web.realtime import ShopperConnections


def test_reach_is_the_configured_channels_the_shopper_has_an_address_for() -> None:
    reach = Reach(frozenset({Channel.PUSH, Channel.SMS}))
    everything = Contact(
        1, phone="+14155550123", email="a@b.example", push=PushSubscription("e", "k", "a")
    )
    assert reach.reachable(everything) == {"push", "sms"}  # no e-mail sender configured
    assert reach.reachable(Contact(2, email="a@b.example")) == set()
    assert reach.reachable(Contact(2, phone="+14155550123")) == {"sms"}


def test_in_app_reaches_every_shopper_page_open_or_not_through_the_inbox() -> None:
    reach = Reach(frozenset({Channel.APP, Channel.EMAIL}))
    assert reach.reachable(Contact(2)) == {"app"}
    assert reach.reachable(Contact(3, email="a@b.example")) == {"app", "email"}


def test_connections_count_every_page_of_a_shopper() -> None:
    connections = ShopperConnections()
    connections.add("sid-1", 7)
    connections.add("sid-2", 7)
    connections.add("sid-2", 7)  # a repeated connect event counts once
    connections.remove("sid-1")
    assert connections.is_connected(7)
    connections.remove("sid-2")
    connections.remove("sid-unknown")
    assert not connections.is_connected(7)


def test_plain_http_unsubscribe_urls_only_on_this_machine() -> None:
    EmailConfig("h", 25, "a@b.example", "u@b.example", "http://127.0.0.1:5000/u")
    EmailConfig("h", 25, "a@b.example", "u@b.example", "http://localhost/u")
    with pytest.raises(ValueError, match="https"):
        EmailConfig("h", 25, "a@b.example", "u@b.example", "http://127.0.0.1.example/u")


def test_vapid_subject_is_a_url_push_services_accept() -> None:
    assert vapid_subject(StoreSettings(public_url="https://shop.example")) == "https://shop.example"
    assert vapid_subject(StoreSettings(public_url="http://10.0.0.5:5000")).startswith("mailto:")
    assert vapid_subject(StoreSettings(vapid_subject="mailto:ops@shop.example")) == (
        "mailto:ops@shop.example"
    )


def test_an_unknown_smtp_security_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORE_SMTP_SECURITY", "ssl")
    with pytest.raises(SettingsError, match="STORE_SMTP_SECURITY"):
        StoreSettings.from_env()


def test_a_subject_apple_refuses_is_warned_about_loudly_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def warnings_for(settings: StoreSettings) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="store_server.messaging.outbound"):
            build_senders(settings, lambda _events: None, lambda _shopper: False)
        return [
            r.getMessage() for r in caplog.records if "vapid_subject_unusable" in r.getMessage()
        ]

    plain_http = StoreSettings(var_dir=str(tmp_path), public_url="http://10.0.0.5:5000")
    assert len(warnings_for(plain_http)) == 1
    https = StoreSettings(var_dir=str(tmp_path), public_url="https://shop.example.com")
    assert warnings_for(https) == []

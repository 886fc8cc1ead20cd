"""The access log names the route of every request and never a secret of its URL."""

from __future__ import annotations

import logging

import pytest

from tests.store_server.conftest import World

SECRETS = ("TOKENSECRET123", "MSGSECRET456", "CODESECRET789", "querysecret")


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("/u/TOKENSECRET123?x=querysecret", "path=/u/<token> status="),
        ("/api/v1/messages/MSGSECRET456/seen", "path=/api/v1/messages/<message_id>/seen"),
        ("/r/CODESECRET789", "path=/r/<code>"),
        ("/nowhere/TOKENSECRET123", "path=- status=404"),
    ],
)
def test_urls_are_logged_without_their_secrets(
    world: World, caplog: pytest.LogCaptureFixture, url: str, logged: str
) -> None:
    caplog.set_level(logging.INFO)
    method = world.client().post if "/seen" in url else world.client().get
    method(url)
    lines = [r.getMessage() for r in caplog.records if r.name == "store_server.access"]
    assert len(lines) == 1 and logged in lines[0], lines
    assert not any(secret in caplog.text for secret in SECRETS)


def test_row_ids_and_gateway_ids_are_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="store_server.access")
    world.client().get(f"/api/v1/stores/{world.seed.store_id}/arrivals")
    world.upload("gw-entrance", [])
    text = caplog.text
    assert f"method=GET path=/api/v1/stores/{world.seed.store_id}/arrivals status=401" in text
    assert "method=POST path=/api/v1/gateways/gw-entrance/batches status=" in text

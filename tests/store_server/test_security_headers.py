"""Security headers on every answer: pages, API answers and errors alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.store_server.conftest import World

TEMPLATES = Path(__file__).resolve().parents[2] / "store_server" / "web" / "templates"


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as directive -> sources."""
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("url", ["/staff", "/console", "/app?store=1", "/u/abc", "/healthz"])
def test_pages_carry_a_policy_that_runs_only_our_scripts(world: World, url: str) -> None:
    response = world.client().get(url)
    assert response.status_code in (200, 404)
    csp = policy(response.headers["Content-Security-Policy"])
    # Our scripts only; WebAssembly compiled from our own files (the till's QR reader).
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]  # the coupons' QR codes are data: URIs
    assert csp["connect-src"] == ["'self'", "ws://localhost", "wss://localhost"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_templates_have_no_inline_script_or_style_the_policy_would_block() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "<style" not in text, template.name
        assert re.search(r"\sstyle=", text) is None, template.name
        assert re.search(r"\son[a-z]+=", text) is None, template.name
        for script in re.findall(r"<script[^>]*>", text):
            assert "src=" in script, (template.name, script)


def test_answers_with_tokens_or_personal_data_are_never_stored(world: World) -> None:
    login = world.client().post(
        "/api/v1/auth/login",
        json={"email": "sam@demo.store", "password": world.password("sam@demo.store")},
    )
    assert login.status_code == 200
    optin = world.client().post(
        "/api/v1/optin",
        json={
            "store_id": world.seed.store_id,
            "first_name": "Ann",
            "consents": [{"purpose": "arrival", "channel": "app"}],
        },
    )
    assert optin.status_code == 201
    export = world.client().get("/api/v1/me/export", headers=world.device_headers("maria"))
    assert export.status_code == 200
    profile = world.client().get("/api/v1/me", headers=world.device_headers("maria"))
    for response in (login, optin, export, profile):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_errors_carry_the_headers_too(world: World) -> None:
    response = world.client().get("/api/v1/stores/99999999999999999999/arrivals")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_service_worker_keeps_its_own_cache_rule(world: World) -> None:
    with world.client().get("/sw.js") as response:
        assert response.headers["Cache-Control"] == "no-cache"
        assert "Content-Security-Policy" in response.headers

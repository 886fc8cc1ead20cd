"""Behind nginx (STORE_TRUSTED_PROXIES=1) the app sees the client's scheme, host and address;
without a trusted proxy, forwarded headers anyone can send change nothing."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from store_server.app import create_app
from store_server.settings import StoreSettings

FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "store.example.com",
    "X-Forwarded-Port": "443",
}


def seen_by_app(database_url: str, trusted_proxies: int) -> dict[str, str]:
    app = create_app(StoreSettings(database_url=database_url, trusted_proxies=trusted_proxies))

    def who() -> ResponseReturnValue:
        return jsonify(scheme=request.scheme, host=request.host, remote=request.remote_addr)

    app.add_url_rule("/test-who", view_func=who)
    response = app.test_client().get(
        "/test-who", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    seen: dict[str, str] = response.get_json()
    return seen


def test_one_trusted_proxy_gives_the_clients_scheme_host_and_address(
    migrated_database_url: str,
) -> None:
    assert seen_by_app(migrated_database_url, 1) == {
        "scheme": "https",
        "host": "store.example.com",
        "remote": "203.0.113.9",
    }


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(migrated_database_url: str) -> None:
    assert seen_by_app(migrated_database_url, 0) == {
        "scheme": "http",
        "host": "localhost",
        "remote": "127.0.0.1",
    }

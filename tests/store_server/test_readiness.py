"""/healthz says the process answers; /readyz that the database answers at the migration head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.stack import free_port
from store_server.app import create_app
from store_server.db.database import Database
from store_server.db.migrate import downgrade, head_revision
from store_server.settings import StoreSettings
from store_server.web.context import services
from tests.store_server.conftest import World


def readyz(url: str, tmp_path: Path) -> Any:
    """GET /readyz of a fresh app on that database (its engine disposed afterwards)."""
    settings = StoreSettings(
        database_url=url, secret_key="test-secret", var_dir=str(tmp_path / "var")
    )
    app = create_app(settings)
    try:
        assert app.test_client().get("/healthz").status_code == 200
        return app.test_client().get("/readyz")
    finally:
        services(app).publisher.stop()
        services(app).outbound.stop()
        services(app).db.dispose()


def test_a_migrated_database_is_ready(world: World) -> None:
    answer = world.client().get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ready", "revision": head_revision()}
    assert world.client().get("/healthz").status_code == 200


def test_an_empty_schema_is_alive_but_not_ready(database_url: str, tmp_path: Path) -> None:
    answer = readyz(database_url, tmp_path)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "not_ready"
    assert answer.get_json()["error"]["details"] == {"revision": None, "head": head_revision()}


def test_a_schema_behind_the_code_is_not_ready(migrated_database_url: str, tmp_path: Path) -> None:
    db = Database(migrated_database_url)
    downgrade(db.engine, "0011")
    db.dispose()
    answer = readyz(migrated_database_url, tmp_path)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["details"]["revision"] == "0011"


def test_an_unreachable_database_is_not_ready(tmp_path: Path) -> None:
    # A PostgreSQL URL on a port nobody listens on: the answer is a 503, not a 500.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2"
    answer = readyz(url, tmp_path)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "not_ready"


def test_a_database_that_does_not_answer_gives_503_in_the_error_shape(tmp_path: Path) -> None:
    settings = StoreSettings(
        database_url=f"sqlite:///{tmp_path / 'no-such-dir' / 'store.db'}",
        secret_key="test-secret",
        var_dir=str(tmp_path / "var"),
    )
    app = create_app(settings)
    try:
        answer = app.test_client().get(
            "/api/v1/stores/1/arrivals", headers={"Authorization": "Bearer some-token"}
        )
    finally:
        services(app).publisher.stop()
        services(app).outbound.stop()
        services(app).db.dispose()
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    assert answer.headers["Retry-After"] == "5"

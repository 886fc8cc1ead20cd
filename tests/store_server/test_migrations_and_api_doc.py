"""The schema comes only from migrations, which go up and down; the API document covers the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from store_server.db.database import Database
from store_server.db.migrate import downgrade, upgrade
from store_server.db.models import Base
from tests.store_server.conftest import World, fresh_postgres_database

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def check_round_trip(url: str) -> None:
    db = Database(url)
    upgrade(db.engine)
    assert set(inspect(db.engine).get_table_names()) >= set(Base.metadata.tables)
    downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(db.engine)
    db.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """A model change without its migration (or the reverse) fails here."""
    db = Database(database_url)
    upgrade(db.engine)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == []


def test_migrations_round_trip_on_sqlite(tmp_path: object) -> None:
    check_round_trip(f"sqlite:///{tmp_path}/m.db")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL (needed: CI runs it; never skipped)."""
    yield from fresh_postgres_database(POSTGRES_ADMIN_URL)


@pytest.mark.postgres
def test_migrations_round_trip_on_postgresql(postgres_url: str) -> None:
    check_round_trip(postgres_url)


def test_openapi_document_lists_every_api_route(world: World) -> None:
    doc = world.client().get("/api/v1/openapi.json").get_json()
    documented = {path.replace("{", "<").replace("}", ">") for path in doc["paths"]}
    routes = {
        rule.rule.replace("<int:", "<")
        for rule in world.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
    }
    assert routes <= documented
    assert "BatchIn" in doc["components"]["schemas"]

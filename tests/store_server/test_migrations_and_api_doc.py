"""The schema comes only from migrations, which go up and down; the API document covers the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from store_server.db.database import Database
from store_server.db.migrate import downgrade, upgrade
from store_server.db.models import ROW_ID_MAX, Base
from store_server.web.openapi import api_operations
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


def test_openapi_document_lists_every_api_route_and_nothing_else(world: World) -> None:
    doc = world.client().get("/api/v1/openapi.json").get_json()
    documented = {
        (method, path, status)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
        if status.startswith("2")
    }
    routes = {
        (method, path, str(status))
        for method, path, _rule, operation in api_operations(world.app)
        if operation is not None
        for status in (operation.status, *operation.also)
    }
    undocumented = [(m, r) for m, _p, r, op in api_operations(world.app) if op is None]
    assert undocumented == []
    assert documented == routes
    assert "BatchIn" in doc["components"]["schemas"]


def test_document_statuses_are_what_the_views_answer(world: World) -> None:
    """A create answers the status its contract names (the hand-kept table had drifted)."""
    doc = world.client().get("/api/v1/openapi.json").get_json()
    store_id = world.seed.store_id
    headers = world.staff_headers("morgan@demo.store")
    zone = world.client().post(
        f"/api/v1/stores/{store_id}/zones",
        json={"name": "garden", "kind": "zone", "label": "Garden"},
        headers=headers,
    )
    assert zone.status_code == 201, zone.get_json()
    assert "201" in doc["paths"]["/api/v1/stores/{store_id}/zones"]["post"]["responses"]
    upload = world.upload("gw-entrance", [])
    assert upload.status_code == 202
    assert "202" in doc["paths"]["/api/v1/gateways/{gateway_id}/batches"]["post"]["responses"]


def test_checker_finds_an_undocumented_route(world: World) -> None:
    app = world.app
    app.add_url_rule("/api/v1/undocumented", "undocumented", lambda: "")
    assert ("get", "/api/v1/undocumented") in [
        (m, p) for m, p, _r, op in api_operations(app) if op is None
    ]


def string_schemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema of a string (and of an object's keys) in a JSON schema."""
    if isinstance(node, list):
        for item in node:
            yield from string_schemas(item)
    elif isinstance(node, dict):
        if node.get("type") == "string" and not {"enum", "const", "format"} & set(node):
            yield node
        if "propertyNames" in node:
            yield node["propertyNames"]
        for value in node.values():
            yield from string_schemas(value)


def test_the_document_says_what_the_app_refuses_before_any_view(world: World) -> None:
    """A conforming request is never refused by the app's own rules, and what they refuse is
    a documented 4xx: ids within their column, no NUL in any string or key, credentials."""
    doc = world.client().get("/api/v1/openapi.json").get_json()
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"staffSession", "shopperDevice", "integrationToken", "gatewayToken"}
    operation_ids = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            where = (method, path)
            operation_ids.append(operation["operationId"])
            responses = operation["responses"]
            assert "400" in responses, where
            for scheme in operation["security"]:
                assert set(scheme) <= set(schemes), where
                assert "401" in responses, where
            for parameter in operation.get("parameters", []):
                assert "404" in responses, where
                schema = parameter["schema"]
                if schema["type"] == "integer":
                    assert (schema["minimum"], schema["maximum"]) == (1, ROW_ID_MAX), where
                else:
                    assert re.fullmatch(schema["pattern"], "a\x00b") is None, where
            if "requestBody" in operation:
                assert {"400", "413"} <= set(responses), where
    assert len(operation_ids) == len(set(operation_ids))
    assert doc["paths"]["/api/v1/me"]["get"]["security"] == [{"shopperDevice": []}]
    assert doc["paths"]["/api/v1/gateways/{gateway_id}/batches"]["post"]["security"] == [
        {"gatewayToken": []}
    ]
    assert doc["paths"]["/api/v1/optin"]["post"]["security"] == []
    strings = list(string_schemas(doc["components"]["schemas"]))
    assert len(strings) > 50
    for schema in strings:
        assert re.search(schema["pattern"], "\x00") is None, schema
        assert re.search(schema["pattern"], "a\x00b") is None, schema


def test_an_optional_body_is_documented_so(world: World) -> None:
    doc = world.client().get("/api/v1/openapi.json").get_json()
    assert doc["paths"]["/api/v1/me/pause"]["post"]["requestBody"]["required"] is False
    assert doc["paths"]["/api/v1/optin"]["post"]["requestBody"]["required"] is True

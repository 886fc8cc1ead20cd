"""Web pages (the staff tablet), vendored browser libraries, health and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, send_from_directory
from pydantic import BaseModel
from sqlalchemy import text
from werkzeug.wrappers import Response

from store_server import schemas
from store_server.errors import ApiError

bp = Blueprint("pages", __name__)
# Browser libraries come from npm at set-up (package.json); the server serves the installed files.
VENDOR_FILES = {"socket.io.min.js": "socket.io-client/dist/socket.io.min.js"}


@bp.get("/")
def index() -> Response:
    """The staff tablet is the first page."""
    return redirect("/staff")


@bp.get("/staff")
def staff_tablet() -> str:
    """The staff tablet page: log in, then arrivals live."""
    return render_template("staff.html")


@bp.get("/vendor/<name>")
def vendor(name: str) -> Response:
    """A browser library installed from npm."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        raise ApiError(404, "not_found", f"no vendored file {name!r}")
    path = Path(current_app.extensions["store_settings"].vendor_dir) / relative
    if not path.is_file():
        raise ApiError(404, "not_installed", f"{relative} is missing: run `make setup`")
    return send_from_directory(path.parent, path.name, max_age=3600)


@bp.get("/healthz")
def health() -> tuple[Response, int]:
    """Liveness and database reachability."""
    with current_app.extensions["store_db"].sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"}), 200


@bp.get("/api/v1/openapi.json")
def openapi() -> tuple[Response, int]:
    """The API's OpenAPI 3.1 document, generated from the pydantic models."""
    return jsonify(openapi_document()), 200


def openapi_document() -> dict[str, Any]:
    """Build the OpenAPI document from the same models that validate requests."""
    models: list[type[BaseModel]] = [
        schemas.BatchIn,
        schemas.BatchAccepted,
        schemas.LoginIn,
        schemas.LoginOut,
        schemas.ArrivalsOut,
        schemas.ErrorOut,
    ]
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema

    def ref(name: str) -> dict[str, Any]:
        return {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
        }

    error = {"description": "error", **ref("ErrorOut")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Store server API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/gateways/{gateway_id}/batches": {
                "post": {
                    "summary": "Upload a gateway's batch of observations (docs/protocol.md)",
                    "parameters": [
                        {
                            "name": "gateway_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {"required": True, **ref("BatchIn")},
                    "responses": {
                        "202": {"description": "stored", **ref("BatchAccepted")},
                        **{s: error for s in ("400", "401", "404", "409", "413")},
                    },
                }
            },
            "/api/v1/auth/login": {
                "post": {
                    "summary": "Log a staffer in",
                    "security": [],
                    "requestBody": {"required": True, **ref("LoginIn")},
                    "responses": {
                        "200": {"description": "logged in", **ref("LoginOut")},
                        "400": error,
                        "401": error,
                    },
                }
            },
            "/api/v1/auth/logout": {
                "post": {
                    "summary": "End the presented staff session",
                    "responses": {"200": {"description": "logged out"}},
                }
            },
            "/api/v1/stores/{store_id}/arrivals": {
                "get": {
                    "summary": "Open pickup arrivals of a store",
                    "parameters": [
                        {
                            "name": "store_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "arrivals", **ref("ArrivalsOut")},
                        "401": error,
                        "403": error,
                    },
                }
            },
        },
    }

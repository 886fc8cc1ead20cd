"""The API's OpenAPI 3.1 document, built from the views themselves.

Each API view carries its contract in `@documented(...)`: summary, request body, answer model,
success status and error statuses. The document walks `app.url_map`, so a route cannot exist
without its entry, nor an entry without its route (tests/store_server/test_migrations_and_api_doc
checks both directions and the statuses against the views' real answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel

from store_server.web.schemas import ErrorOut

API_PREFIX = "/api/v1/"
ATTRIBUTE = "__openapi__"
View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    """One documented API operation: what it takes and what it answers."""

    summary: str
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    public: bool = False  # no bearer token: the path or the form carries the capability


def documented(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    answer: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    public: bool = False,
) -> Callable[[View], View]:
    """Attach a view's API contract; the document is built from it."""
    operation = Operation(summary, body, answer, status, errors, public)

    def attach(view: View) -> View:
        setattr(view, ATTRIBUTE, operation)
        return view

    return attach


def operation_of(view: Callable[..., Any]) -> Operation | None:
    """The contract a view declared, if any."""
    found = getattr(view, ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def api_operations(app: Flask) -> list[tuple[str, str, str, Operation | None]]:
    """Every (method, OpenAPI path, rule, declared operation) of the app's API routes."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method.lower(), path, rule.rule, operation_of(view)))
    return sorted(found, key=lambda item: (item[1], item[0]))


def _parameters(rule: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer" if converter == "int" else "string"},
        }
        for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule)
    ]


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every documented API route of `app`."""
    operations = [(m, p, r, op) for m, p, r, op in api_operations(app) if op is not None]
    models = {m for *_, op in operations for m in (op.body, op.answer) if m is not None}
    components: dict[str, Any] = {}
    for model in sorted(models | {ErrorOut}, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema

    def content(model: type[BaseModel]) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        return {"content": {"application/json": {"schema": ref}}}

    paths: dict[str, Any] = {}
    for method, path, rule, op in operations:
        operation: dict[str, Any] = {"summary": op.summary}
        if parameters := _parameters(rule):
            operation["parameters"] = parameters
        if op.public:
            operation["security"] = []
        if op.body is not None:
            operation["requestBody"] = {"required": True, **content(op.body)}
        answer = {"description": "success", **(content(op.answer) if op.answer else {})}
        operation["responses"] = {
            str(op.status): answer,
            **{str(code): {"description": "error", **content(ErrorOut)} for code in op.errors},
        }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Store server API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }

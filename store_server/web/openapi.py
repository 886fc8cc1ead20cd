"""The API's OpenAPI 3.1 document, built from the views themselves.

Each API view carries its contract in `@documented(...)`: summary, request body, answer model,
success status, error statuses and who may call it. The document walks `app.url_map`, so a route
cannot exist without its entry, nor an entry without its route (tests/store_server/
test_migrations_and_api_doc checks both directions and the statuses against the views' real
answers; tests/store_server/test_schemathesis runs schemathesis against it on a real server).

What every view answers without saying so is added here, from the rules the app applies
before any view runs: 400 for U+0000 in the path or query and for a body breaking the strict
JSON rules (web/input_limits.py), 404 for a path id beyond its column or naming nothing, 413
for a body over STORE_MAX_BODY_BYTES, 401 without the caller's credentials, 403 for another
store. The schemas say what those rules refuse: ids within the primary keys' range, no NUL in
any string or key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel

from store_server.db.models import ROW_ID_MAX
from store_server.web.schemas import ErrorOut

API_PREFIX = "/api/v1/"
ATTRIBUTE = "__openapi__"
View = TypeVar("View", bound=Callable[..., Any])
# Who calls an operation, by the bearer token it presents (web/auth.py).
Caller = Literal["staff", "shopper", "integration", "gateway"]
SECURITY_SCHEMES: dict[Caller, tuple[str, str]] = {
    "staff": ("staffSession", "a staffer's session token (POST /api/v1/auth/login)"),
    "shopper": ("shopperDevice", "a shopper's device token (POST /api/v1/optin)"),
    "integration": ("integrationToken", "the store's order system (store-server add-integration)"),
    "gateway": ("gatewayToken", "a gateway's token (store-server add-gateway)"),
}
# A string without U+0000, which every request refuses (web/input_limits.py). The escape, not
# the character: JSON Schema's and Python's regular expressions both read `\u0000`.
NO_NUL = "^[^\\u0000]*$"
# A path segment Werkzeug's default converter matches: no slash, at least one character.
PATH_SEGMENT = "^[^/\\u0000]+$"


@dataclass(frozen=True)
class Operation:
    """One documented API operation: what it takes and what it answers."""

    summary: str
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    public: bool = False  # no bearer token: the path or the form carries the capability
    caller: Caller = "staff"
    also: tuple[int, ...] = ()  # other success statuses, with the same answer (200 vs 201)
    body_required: bool = True  # False: a request without a body takes the defaults


def documented(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    answer: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    public: bool = False,
    caller: Caller = "staff",
    also: tuple[int, ...] = (),
    body_required: bool = True,
) -> Callable[[View], View]:
    """Attach a view's API contract; the document is built from it."""
    operation = Operation(
        summary, body, answer, status, errors, public, caller, also, body_required
    )

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
    row_id = {"type": "integer", "minimum": 1, "maximum": ROW_ID_MAX}
    text = {"type": "string", "pattern": PATH_SEGMENT}
    return [
        {"name": name, "in": "path", "required": True, "schema": row_id if kind == "int" else text}
        for kind, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule)
    ]


def error_statuses(rule: str, op: Operation) -> list[int]:
    """The error statuses of an operation: those its view declares, and the app's own."""
    statuses = {400, *op.errors}  # a NUL in the path or query, before any view
    if "<" in rule:
        statuses.add(404)  # an id beyond its column, or naming nothing
    if op.body is not None:
        statuses.add(413)  # over STORE_MAX_BODY_BYTES
    if not op.public:
        statuses.add(401)
        if "<int:store_id>" in rule:
            statuses.add(403)  # a staffer's or a system's of another store
    return sorted(statuses)


def _refuse_nul(schema: Any) -> None:
    """Say in a JSON schema what the server refuses: U+0000 in a string or a key."""
    if isinstance(schema, list):
        for item in schema:
            _refuse_nul(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"enum", "const", "format"} & set(schema):
        pattern = schema.get("pattern")
        if pattern is None:
            schema["pattern"] = NO_NUL
        else:  # a negated class would take U+0000: exclude it there
            schema["pattern"] = pattern.replace("[^", "[^\\u0000")
    if schema.get("type") == "object" and schema.get("additionalProperties") not in (None, False):
        schema.setdefault("propertyNames", {}).setdefault("pattern", NO_NUL)
    for value in schema.values():
        _refuse_nul(value)


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every documented API route of `app`."""
    operations = [(m, p, r, op) for m, p, r, op in api_operations(app) if op is not None]
    models = {m for *_, op in operations for m in (op.body, op.answer) if m is not None}
    components: dict[str, Any] = {}
    for model in sorted(models | {ErrorOut}, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    _refuse_nul(components)

    def content(model: type[BaseModel]) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        return {"content": {"application/json": {"schema": ref}}}

    endpoints = {
        (rule.rule, method.lower()): rule.endpoint
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    paths: dict[str, Any] = {}
    for method, path, rule, op in operations:
        # The view's endpoint names the operation (one view per method and rule).
        operation: dict[str, Any] = {
            "operationId": endpoints[rule, method],
            "summary": op.summary,
        }
        if parameters := _parameters(rule):
            operation["parameters"] = parameters
        operation["security"] = [] if op.public else [{SECURITY_SCHEMES[op.caller][0]: []}]
        if op.body is not None:
            operation["requestBody"] = {"required": op.body_required, **content(op.body)}
        answer = {"description": "success", **(content(op.answer) if op.answer else {})}
        operation["responses"] = {
            **{str(code): answer for code in (op.status, *op.also)},
            **{
                str(code): {"description": "error", **content(ErrorOut)}
                for code in error_statuses(rule, op)
            },
        }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Store server API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {
                name: {"type": "http", "scheme": "bearer", "description": description}
                for name, description in SECURITY_SCHEMES.values()
            },
        },
        "paths": paths,
    }

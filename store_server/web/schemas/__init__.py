"""Request and response models (pydantic v2): the one validation layer, and the OpenAPI source."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from store_server.db.models import ROW_ID_MAX
from store_server.engagement.coupons import CouponOut
from store_server.web.errors import ApiError


class Strict(BaseModel):
    """A request model: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# A UUID as the gateway writes it: lower-case hex with dashes.
UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Registered ids as the gateway's frames build them (`registered_id()`) and docs/protocol.md
# spells them: what a store registers its beacons under and a shopper their key-fob or car tag.
_U16_TEXT = r"(?:0|[1-9][0-9]{0,4})"
REGISTERED_ID_PATTERNS = {
    "ibeacon": re.compile(rf"^{UUID_TEXT}:{_U16_TEXT}:{_U16_TEXT}$"),
    "altbeacon": re.compile(rf"^{UUID_TEXT}:{_U16_TEXT}:{_U16_TEXT}$"),
    "eddystone_uid": re.compile(r"^[0-9a-f]{20}:[0-9a-f]{12}$"),
}
_REGISTERED_ID_SHAPES = {
    "ibeacon": "uuid:major:minor",
    "altbeacon": "id1:id2:id3 (id1 a uuid)",
    "eddystone_uid": "namespace (20 hex digits):instance (12 hex digits)",
}


def registered_id_problem(kind: str, identifier: str) -> str | None:
    """Why `identifier` is not a registered id of that kind, or None when it is one."""
    pattern = REGISTERED_ID_PATTERNS.get(kind)
    if pattern is None or not pattern.match(identifier):
        return f"not a {kind} id: expected {_REGISTERED_ID_SHAPES.get(kind, 'a known kind')}"
    if kind != "eddystone_uid" and any(int(n) > 0xFFFF for n in identifier.split(":")[1:]):
        return "major and minor are at most 65535"
    return None


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], payload: Any) -> M:
    """Validate a decoded JSON body, or raise a 400 naming every bad field."""
    if payload is None:
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    try:
        # Strict, in JSON's terms: `false` is no integer nor `"1"` a number, as the document
        # says (pydantic's lax mode took them); an enum or a date still comes as text.
        return model.model_validate_json(json.dumps(payload), strict=True)
    except ValidationError as exc:
        fields = [
            {"loc": list(err["loc"]), "msg": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(
            400, "invalid_body", "the request body is not valid", {"fields": fields}
        ) from exc


def optional_json(request: Request) -> Any:
    """The decoded JSON body, `{}` when there is none (the model's defaults), or None when
    there is one but it is not JSON (`parse_body`'s 400 `malformed_json`)."""
    return request.get_json(silent=True) if request.get_data() else {}


class CouponsOut(BaseModel):
    """A shopper's coupons."""

    coupons: list[CouponOut]


class ErrorBody(BaseModel):
    """The inside of every error answer."""

    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody


# A row's id in a body (a store, a zone): beyond the column's range it names no row, and is
# refused here rather than by the database.
RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# A profile attribute's value, as a store system sets it and an audience filters on it.
AttributeValue = Annotated[str, StringConstraints(max_length=100)] | int | bool


class JsonObjectOut(BaseModel):
    """A JSON object whose members the operation's summary describes (a download, a report)."""

    model_config = ConfigDict(extra="allow")

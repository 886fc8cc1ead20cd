"""Request and response models (pydantic v2): the one validation layer, and the OpenAPI source."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from store_server.errors import ApiError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EddystoneEidFrame(_Strict):
    """An Eddystone-EID frame as the gateway decoded it."""

    kind: Literal["eddystone_eid"]
    eid: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="8 bytes, lowercase hex")]
    tx_power: Annotated[int, Field(ge=-128, le=127, description="calibrated power at 0 m, dBm")]


class ObservationIn(_Strict):
    """One advert a gateway heard."""

    seen_at: Annotated[float, Field(gt=0, description="gateway clock, Unix seconds")]
    rssi: Annotated[int, Field(ge=-127, le=20, description="dBm")]
    frame: EddystoneEidFrame


class BatchIn(_Strict):
    """A gateway's upload."""

    batch_id: Annotated[str, Field(min_length=1, max_length=64)]
    sent_at: Annotated[float, Field(gt=0)]
    observations: list[ObservationIn]


class BatchAccepted(BaseModel):
    """The answer to a stored batch."""

    batch_id: str
    accepted: int
    resolved: int


class LoginIn(_Strict):
    """Staff credentials."""

    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class StaffOut(BaseModel):
    """Who is logged in (no password, no history)."""

    id: int
    name: str
    role: Literal["staff", "manager"]
    store_id: int
    store_name: str


class LoginOut(BaseModel):
    """A bearer token for the API and the Socket.IO connection."""

    token: str
    expires_at: float
    staff: StaffOut


class Reason(BaseModel):
    """One signal behind an arrival."""

    signal: str
    gateway: str
    rssi: int


class ArrivalOut(BaseModel):
    """A pickup arrival as staff see it: first name, order and where; never contact details."""

    alert_id: int
    store_id: int
    visit_id: int
    first_name: str
    order_number: str
    items: list[dict[str, Any]]
    where: str
    arrived_at: float
    status: str
    confidence: float
    reasons: list[Reason]


class ArrivalsOut(BaseModel):
    """The open arrivals of a store."""

    arrivals: list[ArrivalOut]


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], payload: Any) -> M:
    """Validate a decoded JSON body, or raise a 400 naming every bad field."""
    if payload is None:
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = [
            {"loc": list(err["loc"]), "msg": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(
            400, "invalid_body", "the request body is not valid", {"fields": fields}
        ) from exc


class ErrorBody(BaseModel):
    """The inside of every error answer."""

    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody

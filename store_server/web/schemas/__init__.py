"""Request and response models (pydantic v2): the one validation layer, and the OpenAPI source."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from store_server.engagement.coupons import CouponOut
from store_server.web.errors import ApiError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EddystoneEidFrame(_Strict):
    """An Eddystone-EID frame as the gateway decoded it."""

    kind: Literal["eddystone_eid"]
    eid: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="8 bytes, lowercase hex")]
    tx_power: Annotated[int, Field(ge=-128, le=127, description="calibrated power at 0 m, dBm")]


_UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID = rf"^{_UUID_TEXT}$"
_U16 = Annotated[int, Field(ge=0, le=0xFFFF)]
_I8 = Annotated[int, Field(ge=-128, le=127)]


class IBeaconFrame(_Strict):
    """A registered iBeacon."""

    kind: Literal["ibeacon"]
    uuid: Annotated[str, Field(pattern=_UUID)]
    major: _U16
    minor: _U16
    power: _I8

    def registered_id(self) -> str:
        """The id the store registered this beacon under (docs/protocol.md)."""
        return f"{self.uuid}:{self.major}:{self.minor}"


class AltBeaconFrame(_Strict):
    """A registered AltBeacon."""

    kind: Literal["altbeacon"]
    company_id: _U16
    id1: Annotated[str, Field(pattern=_UUID)]
    id2: _U16
    id3: _U16
    ref_rssi: _I8
    reserved: Annotated[int, Field(ge=0, le=255)]

    def registered_id(self) -> str:
        """The id the store registered this beacon under."""
        return f"{self.id1}:{self.id2}:{self.id3}"


class EddystoneUidFrame(_Strict):
    """A registered Eddystone-UID beacon."""

    kind: Literal["eddystone_uid"]
    tx_power: _I8
    namespace: Annotated[str, Field(pattern=r"^[0-9a-f]{20}$")]
    instance: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]

    def registered_id(self) -> str:
        """The id the store registered this beacon under."""
        return f"{self.namespace}:{self.instance}"


# Registered ids as the frames above build them (`registered_id()`) and docs/protocol.md spells
# them: what a store registers its beacons under and a shopper their key-fob or car tag.
_U16_TEXT = r"(?:0|[1-9][0-9]{0,4})"
REGISTERED_ID_PATTERNS = {
    "ibeacon": re.compile(rf"^{_UUID_TEXT}:{_U16_TEXT}:{_U16_TEXT}$"),
    "altbeacon": re.compile(rf"^{_UUID_TEXT}:{_U16_TEXT}:{_U16_TEXT}$"),
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


class EddystoneTlmFrame(_Strict):
    """Telemetry of a registered beacon: battery, temperature, counters."""

    kind: Literal["eddystone_tlm"]
    battery_mv: _U16
    temperature_c: Annotated[float, Field(ge=-128, le=128)] | None
    adv_count: Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
    uptime_s: Annotated[float, Field(ge=0)]


Frame = Annotated[
    EddystoneEidFrame | IBeaconFrame | AltBeaconFrame | EddystoneUidFrame | EddystoneTlmFrame,
    Field(discriminator="kind"),
]


class ObservationIn(_Strict):
    """One advert a gateway heard."""

    seen_at: Annotated[float, Field(gt=0, description="gateway clock, Unix seconds")]
    rssi: Annotated[int, Field(ge=-127, le=20, description="dBm")]
    frame: Frame
    beacon_id: Annotated[
        str | None,
        Field(max_length=100, description="eddystone_tlm only: the registered id that sent it"),
    ] = None


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
    ignored: Annotated[
        dict[str, int],
        Field(
            description="observations not used, per reason: unresolved, detection_paused, "
            "future_timestamp, stale_timestamp, out_of_order"
        ),
    ] = Field(default_factory=dict)


class PresenceEventOut(BaseModel):
    """A presence event as staff tablets receive it (Socket.IO `presence`): first name only."""

    id: int
    store_id: int
    shopper_id: int
    first_name: str
    visit_id: int | None
    kind: Literal["walk_by", "entered", "zone_entered", "zone_dwell", "curbside", "exited"]
    zone: str | None
    at: float
    confidence: float
    reasons: list[dict[str, Any]]
    dwell_s: float | None = None


class RegisteredDevice(BaseModel):
    """A beacon or tag the store registered; the gateway uploads its frames."""

    kind: Literal["ibeacon", "altbeacon", "eddystone_uid"]
    id: str


class GatewayConfigOut(BaseModel):
    """What a gateway needs to know from the server."""

    gateway_id: str
    store_id: int
    refresh_s: int
    registered: list[RegisteredDevice]
    entry_rssi_dbm: Annotated[
        float | None,
        Field(description="entrance gateways: a reading crossing this upward is reported at once"),
    ] = None


class HeartbeatIn(_Strict):
    """A gateway's health, every 30 s."""

    sent_at: Annotated[float, Field(gt=0)]
    version: Annotated[str, Field(max_length=40)]
    adapter_state: Literal["scanning", "restarting", "unavailable"]
    adverts_per_s: Annotated[float, Field(ge=0)]
    devices_tracked: Annotated[int, Field(ge=0)]
    outbox_depth: Annotated[int, Field(ge=0)]
    dropped: dict[Annotated[str, Field(max_length=40)], Annotated[int, Field(ge=0)]]
    last_advert_at: Annotated[float, Field(ge=0)] | None = None
    scanner_restarts: Annotated[int, Field(ge=0)] = 0


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


class CouponsOut(BaseModel):
    """A shopper's coupons."""

    coupons: list[CouponOut]


class CheckinIn(_Strict):
    """A shopper says "I'm here", optionally at a curbside bay."""

    store_id: int
    bay: Annotated[str, Field(min_length=1, max_length=100)] | None = None


Purpose = Literal["arrival", "offers"]
Channel = Literal["app", "push", "sms", "email"]


class ConsentIn(_Strict):
    """One thing a shopper says yes to: a purpose, through a channel."""

    purpose: Purpose
    channel: Channel


class OptInIn(_Strict):
    """Joining a store's app: nothing is kept without at least one consent."""

    store_id: int
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    phone: Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")] | None = None
    consents: Annotated[list[ConsentIn], Field(min_length=1, max_length=8)]


class OptInOut(BaseModel):
    """What the app keeps: its bearer token and the identity key it advertises EIDs from."""

    device_token: str
    identity_key: str
    rotation_exponent: int
    shopper_id: int


class PauseIn(_Strict):
    """Pause arrival detection for a number of minutes (0 resumes).

    An hour is the usual ask; a day is the most, beyond which arrival alerts should rather be
    switched off.
    """

    minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 60


class ConsentsIn(_Strict):
    """The full set of consents for one store (replaces the previous set)."""

    store_id: int
    consents: Annotated[list[ConsentIn], Field(max_length=8)]


class ProfileOut(BaseModel):
    """What the store knows of the shopper, as the shopper sees it."""

    shopper_id: int
    first_name: str
    email: str | None
    phone: str | None
    timezone: str
    consents: list[dict[str, Any]]


class SightingIn(_Strict):
    """The app heard one of the store's beacons."""

    beacon: Annotated[str, Field(min_length=3, max_length=100, description="its registered id")]
    rssi: Annotated[int, Field(ge=-127, le=20)]
    seen_at: Annotated[float, Field(gt=0, description="the phone's clock, Unix seconds")]


class SightingsIn(_Strict):
    """Store beacons the app heard since its last report."""

    store_id: int
    sightings: Annotated[list[SightingIn], Field(min_length=1, max_length=200)]


class TagIn(_Strict):
    """A key-fob or car tag the shopper registers (its id as in docs/protocol.md)."""

    kind: Literal["ibeacon", "altbeacon", "eddystone_uid"]
    id: Annotated[str, Field(min_length=3, max_length=100)]
    label: Annotated[str, Field(min_length=1, max_length=100)] = "tag"


class TagOut(BaseModel):
    """A registered tag."""

    tag_id: int
    kind: str
    id: str
    label: str


class SurveyAnswerIn(_Strict):
    """The answer to "how likely are you to recommend us?" (0 to 10)."""

    score: Annotated[int, Field(ge=0, le=10)]
    comment: Annotated[str, Field(max_length=1000)] | None = None


class PickupOut(BaseModel):
    """What the shopper sees of one of their pickup orders."""

    order_number: str
    store_id: int
    status: str
    staff_on_the_way: str | None


class PickupsOut(BaseModel):
    """A shopper's open pickups."""

    pickups: list[PickupOut]


class ErrorBody(BaseModel):
    """The inside of every error answer."""

    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# A profile attribute's value, as a store system sets it and an audience filters on it.
AttributeValue = Annotated[str, StringConstraints(max_length=100)] | int | bool


# base64url as browsers give it (unpadded), padding tolerated; the decoded lengths are checked
# by the push blueprint.
_BASE64URL = r"^[A-Za-z0-9_-]+={0,2}$"


class PushKeysIn(_Strict):
    """A subscription's keys, base64url as `PushSubscription.toJSON()` gives them."""

    p256dh: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            pattern=_BASE64URL,
            description="the browser's ECDH share: a 65-byte uncompressed P-256 point",
        ),
    ]
    auth: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            pattern=_BASE64URL,
            description="the 16-byte authentication secret",
        ),
    ]


class PushSubscriptionIn(_Strict):
    """The browser's `PushSubscription.toJSON()`: the push service's endpoint and the keys."""

    endpoint: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1000,
            description="https (plain http only for a push service on 127.0.0.1 or localhost)",
        ),
    ]
    expiration_time: Annotated[float | None, Field(alias="expirationTime")] = None
    keys: PushKeysIn


class PushUnsubscribeIn(_Strict):
    """The endpoint of a subscription to forget."""

    endpoint: Annotated[str, Field(min_length=1, max_length=1000)]


class PushKeyOut(BaseModel):
    """The server's VAPID public key: `applicationServerKey` for `pushManager.subscribe()`."""

    application_server_key: str


class PushSubscribedOut(BaseModel):
    """A stored subscription (the endpoint is not echoed back: it is a capability)."""

    subscribed: bool
    created: bool


ZoneKind = Literal["entrance", "zone", "bay"]
# Calibration corrects how differently two boxes of the same model hear (antenna, enclosure,
# mounting): a few dB. 20 dB is ten times the distance at n = 2; a box that far off is faulty
# or badly placed, and an offset would only hide it.
MAX_RSSI_OFFSET_DB = 20.0
RssiOffset = Annotated[
    float,
    Field(
        ge=-MAX_RSSI_OFFSET_DB,
        le=MAX_RSSI_OFFSET_DB,
        allow_inf_nan=False,
        description="dB added to every reading of this gateway (calibration)",
    ),
]
GatewayId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    Field(description="letters, digits, dot, dash, underscore; up to 64"),
]
BeaconKind = Literal["ibeacon", "altbeacon", "eddystone_uid"]


class ZoneIn(_Strict):
    """A place in the store: its name (what campaigns and events use), kind and label."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    kind: ZoneKind
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ZoneOut(BaseModel):
    """A zone of the store."""

    id: int
    name: str
    kind: ZoneKind
    label: str


class ZoneChangeOut(BaseModel):
    """A renamed or deleted zone, and the campaigns still naming its old name."""

    zone: ZoneOut | None
    stale_campaigns: Annotated[
        list[str],
        Field(description="campaigns whose current version names the old zone: edit them"),
    ]


class GatewayPlaceIn(_Strict):
    """Where a gateway is (a zone of its store, or none: the floor) and its calibration."""

    zone_id: int | None
    rssi_offset_db: RssiOffset


class GatewayRegisterIn(_Strict):
    """A new gateway of the store."""

    id: GatewayId
    zone_id: int | None = None
    rssi_offset_db: RssiOffset = 0.0


class HeartbeatSummary(BaseModel):
    """The gist of a gateway's latest heartbeat."""

    version: str | None
    adapter_state: str | None
    adverts_per_s: float | None
    devices_tracked: int | None
    outbox_depth: int | None
    scanner_restarts: int | None


class GatewayOut(BaseModel):
    """A gateway as the manager sees it (never its token)."""

    id: str
    zone_id: int | None
    zone: str | None
    rssi_offset_db: float
    last_heartbeat_at: float | None
    status: Annotated[
        Literal["online", "silent", "never_heard"],
        Field(description="silent: no heartbeat for three periods"),
    ]
    heartbeat: HeartbeatSummary | None


class GatewayRegisteredOut(BaseModel):
    """A registered gateway and its token: shown once, only its digest is kept."""

    gateway: GatewayOut
    token: str


class BeaconIn(_Strict):
    """A fixed beacon of the store, by its registered id (docs/protocol.md)."""

    kind: BeaconKind
    identifier: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=100)
    ]
    zone_id: int | None = None


class BeaconPlaceIn(_Strict):
    """Where a beacon hangs: a zone of its store, or none."""

    zone_id: int | None


class BeaconOut(BaseModel):
    """A beacon with its health."""

    id: int
    kind: str
    identifier: str
    zone_id: int | None
    zone: str | None
    last_seen_at: float | None
    last_rssi: int | None
    last_seen_by: str | None
    battery_mv: int | None
    temperature_c: float | None
    telemetry_at: float | None
    health: Literal["ok", "low_battery", "silent", "never_heard"]


class LayoutOut(BaseModel):
    """A store's zones, gateways and beacons."""

    store_id: int
    zones: list[ZoneOut]
    gateways: list[GatewayOut]
    beacons: list[BeaconOut]

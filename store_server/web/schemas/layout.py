"""The managers' layout API: zones, gateways (place, calibration, health) and beacons."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from store_server.presence.gateways import GATEWAY_ID_PATTERN, MAX_RSSI_OFFSET_DB
from store_server.vocabulary import DeviceKind, ZoneKind
from store_server.web.schemas import RowId, Strict

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
    StringConstraints(pattern=GATEWAY_ID_PATTERN.pattern),
    Field(description="letters, digits, dot, dash, underscore; up to 64"),
]


class ZoneIn(Strict):
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


class GatewayPlaceIn(Strict):
    """Where a gateway is (a zone of its store, or none: the floor) and its calibration."""

    zone_id: RowId | None
    rssi_offset_db: RssiOffset


class GatewayRegisterIn(Strict):
    """A new gateway of the store."""

    id: GatewayId
    zone_id: RowId | None = None
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


class BeaconIn(Strict):
    """A fixed beacon of the store, by its registered id (docs/protocol.md)."""

    kind: DeviceKind
    identifier: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=100)
    ]
    zone_id: RowId | None = None


class BeaconPlaceIn(Strict):
    """Where a beacon hangs: a zone of its store, or none."""

    zone_id: RowId | None


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


class BeaconDeletedOut(BaseModel):
    """The id of the beacon forgotten."""

    deleted: int

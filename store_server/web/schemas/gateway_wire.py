"""The gateway wire protocol (docs/protocol.md): batches of observed frames, heartbeats, config."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from store_server.presence.heard import Heard, Telemetry
from store_server.vocabulary import DeviceKind
from store_server.web.schemas import UUID_TEXT, Strict

_UUID = rf"^{UUID_TEXT}$"
_U16 = Annotated[int, Field(ge=0, le=0xFFFF)]
_I8 = Annotated[int, Field(ge=-128, le=127)]


class EddystoneEidFrame(Strict):
    """An Eddystone-EID frame as the gateway decoded it."""

    kind: Literal["eddystone_eid"]
    eid: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="8 bytes, lowercase hex")]
    tx_power: Annotated[int, Field(ge=-128, le=127, description="calibrated power at 0 m, dBm")]


class IBeaconFrame(Strict):
    """A registered iBeacon."""

    kind: Literal["ibeacon"]
    uuid: Annotated[str, Field(pattern=_UUID)]
    major: _U16
    minor: _U16
    power: _I8

    def registered_id(self) -> str:
        """The id the store registered this beacon under (docs/protocol.md)."""
        return f"{self.uuid}:{self.major}:{self.minor}"


class AltBeaconFrame(Strict):
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


class EddystoneUidFrame(Strict):
    """A registered Eddystone-UID beacon."""

    kind: Literal["eddystone_uid"]
    tx_power: _I8
    namespace: Annotated[str, Field(pattern=r"^[0-9a-f]{20}$")]
    instance: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]

    def registered_id(self) -> str:
        """The id the store registered this beacon under."""
        return f"{self.namespace}:{self.instance}"


class EddystoneTlmFrame(Strict):
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


class ObservationIn(Strict):
    """One advert a gateway heard."""

    seen_at: Annotated[float, Field(gt=0, description="gateway clock, Unix seconds")]
    rssi: Annotated[int, Field(ge=-127, le=20, description="dBm")]
    frame: Frame
    beacon_id: Annotated[
        str | None,
        Field(max_length=100, description="eddystone_tlm only: the registered id that sent it"),
    ] = None

    def heard(self) -> Heard:
        """The observation as presence takes it."""
        frame = self.frame
        if isinstance(frame, EddystoneEidFrame):
            return Heard(self.seen_at, self.rssi, frame.kind, eid=bytes.fromhex(frame.eid))
        if isinstance(frame, EddystoneTlmFrame):
            telemetry = Telemetry(
                frame.battery_mv, frame.temperature_c, frame.adv_count, frame.uptime_s
            )
            return Heard(
                self.seen_at, self.rssi, frame.kind, telemetry=telemetry, beacon_id=self.beacon_id
            )
        return Heard(self.seen_at, self.rssi, frame.kind, registered_id=frame.registered_id())


class BatchIn(Strict):
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


class RegisteredDevice(BaseModel):
    """A beacon or tag the store registered; the gateway uploads its frames."""

    kind: DeviceKind
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


class HeartbeatIn(Strict):
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
    # Set while the server does not take the gateway's batches (they wait in its outbox).
    uploads_held_since: Annotated[float, Field(ge=0)] | None = None
    upload_held_status: Annotated[int, Field(ge=100, le=599)] | None = None


class HeartbeatReceived(BaseModel):
    """The heartbeat is kept."""

    received: bool

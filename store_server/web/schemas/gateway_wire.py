"""The gateway wire protocol (docs/protocol.md): batches of observed frames, heartbeats, config."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from store_server.presence.heard import Heard, Telemetry
from store_server.vocabulary import DeviceKind
from store_server.web.schemas import UUID_TEXT, Strict, parse_body

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


@dataclass(frozen=True)
class Batch:
    """A validated batch, as presence takes it."""

    batch_id: str
    heard: list[Heard]


def parse_batch(payload: Any) -> Batch:
    """Validate a decoded batch body, or raise `parse_body`'s 400 naming every bad field.

    A batch is most of what the server reads (500 observations a request), so the usual
    shape is checked by plain loops (`_fast_batch`: 10x cheaper than re-encoding the body
    for pydantic and validating it there). It accepts only what `BatchIn` accepts, with the
    same values, and gives up on anything else: unusual or bad input goes through
    `parse_body(BatchIn)`, whose answer (the batch, or the 400) is the one the API defines.
    """
    fast = _fast_batch(payload)
    if fast is not None:
        return fast
    batch = parse_body(BatchIn, payload)
    return Batch(batch.batch_id, [obs.heard() for obs in batch.observations])


# What `_fast_batch` takes, each no wider than its field in the models above. Free text must
# be ASCII: pydantic reads the body from its JSON text, and refuses what json.loads lets
# through (a lone surrogate); the ids and hex fields are ASCII by their pattern anyway.
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX20 = re.compile(r"[0-9a-f]{20}")
_HEX12 = re.compile(r"[0-9a-f]{12}")
_UUID_FULL = re.compile(UUID_TEXT)
_OBSERVATION_KEYS = frozenset({"seen_at", "rssi", "frame"})
_OBSERVATION_KEYS_BEACON = frozenset({"seen_at", "rssi", "frame", "beacon_id"})


def _is_int(value: Any, low: int, high: int) -> bool:
    return value.__class__ is int and low <= value <= high


def _is_number(value: Any) -> bool:  # a float field takes a JSON integer, never a boolean
    return value.__class__ is float or value.__class__ is int


def _is_text(value: Any, low: int, high: int) -> bool:
    return value.__class__ is str and low <= len(value) <= high and value.isascii()


def _fast_ibeacon(frame: Any, seen_at: float, rssi: int, beacon_id: Any) -> Heard | None:
    uuid, major, minor = frame.get("uuid"), frame.get("major"), frame.get("minor")
    if (
        len(frame) != 5
        or uuid.__class__ is not str
        or not _UUID_FULL.fullmatch(uuid)
        or not _is_int(major, 0, 0xFFFF)
        or not _is_int(minor, 0, 0xFFFF)
        or not _is_int(frame.get("power"), -128, 127)
    ):
        return None
    return Heard(seen_at, rssi, "ibeacon", registered_id=f"{uuid}:{major}:{minor}")


def _fast_altbeacon(frame: Any, seen_at: float, rssi: int, beacon_id: Any) -> Heard | None:
    id1, id2, id3 = frame.get("id1"), frame.get("id2"), frame.get("id3")
    if (
        len(frame) != 7
        or id1.__class__ is not str
        or not _UUID_FULL.fullmatch(id1)
        or not _is_int(id2, 0, 0xFFFF)
        or not _is_int(id3, 0, 0xFFFF)
        or not _is_int(frame.get("company_id"), 0, 0xFFFF)
        or not _is_int(frame.get("ref_rssi"), -128, 127)
        or not _is_int(frame.get("reserved"), 0, 255)
    ):
        return None
    return Heard(seen_at, rssi, "altbeacon", registered_id=f"{id1}:{id2}:{id3}")


def _fast_uid(frame: Any, seen_at: float, rssi: int, beacon_id: Any) -> Heard | None:
    namespace, instance = frame.get("namespace"), frame.get("instance")
    if (
        len(frame) != 4
        or namespace.__class__ is not str
        or not _HEX20.fullmatch(namespace)
        or instance.__class__ is not str
        or not _HEX12.fullmatch(instance)
        or not _is_int(frame.get("tx_power"), -128, 127)
    ):
        return None
    return Heard(seen_at, rssi, "eddystone_uid", registered_id=f"{namespace}:{instance}")


def _fast_tlm(frame: Any, seen_at: float, rssi: int, beacon_id: Any) -> Heard | None:
    battery, temperature = frame.get("battery_mv"), frame.get("temperature_c")
    count, uptime = frame.get("adv_count"), frame.get("uptime_s")
    if (
        len(frame) != 5
        or "temperature_c" not in frame
        or not _is_int(battery, 0, 0xFFFF)
        or not (temperature is None or (_is_number(temperature) and -128 <= temperature <= 128))
        or not _is_int(count, 0, 0xFFFFFFFF)
        or not (_is_number(uptime) and uptime >= 0)
    ):
        return None
    telemetry = Telemetry(
        battery,
        None if temperature is None else float(temperature),
        count,
        float(uptime),
    )
    return Heard(seen_at, rssi, "eddystone_tlm", telemetry=telemetry, beacon_id=beacon_id)


# Each: the Heard of a frame of its kind, or None to leave the batch to pydantic (an
# Eddystone-EID frame, most of a batch, is read in `_fast_batch`'s loop).
_FRAMES: dict[str, Callable[[Any, float, int, Any], Heard | None]] = {
    "ibeacon": _fast_ibeacon,
    "altbeacon": _fast_altbeacon,
    "eddystone_uid": _fast_uid,
    "eddystone_tlm": _fast_tlm,
}


def _fast_batch(payload: Any) -> Batch | None:
    """The batch, if it is plainly valid; None for anything else (pydantic decides)."""
    if payload.__class__ is not dict or len(payload) != 3:
        return None
    body: Any = payload  # each member is checked below
    batch_id, sent_at, observations = (
        body.get("batch_id"),
        body.get("sent_at"),
        body.get("observations"),
    )
    if (
        not _is_text(batch_id, 1, 64)
        or not (_is_number(sent_at) and sent_at > 0)
        or observations.__class__ is not list
    ):
        return None
    heard: list[Heard] = []
    eids: dict[str, bytes] = {}  # each EID checked once: a batch hears a phone many times
    for obs in observations:
        if obs.__class__ is not dict:
            return None
        keys = obs.keys()
        if keys != _OBSERVATION_KEYS and keys != _OBSERVATION_KEYS_BEACON:
            return None
        seen_at, rssi, frame = obs["seen_at"], obs["rssi"], obs["frame"]
        beacon_id = obs.get("beacon_id")  # allowed on any frame, kept for telemetry only
        if (
            not (_is_number(seen_at) and seen_at > 0)
            or not (rssi.__class__ is int and -127 <= rssi <= 20)
            or frame.__class__ is not dict
            or (beacon_id is not None and not _is_text(beacon_id, 0, 100))
        ):
            return None
        kind = frame.get("kind")
        if kind == "eddystone_eid":
            if len(frame) != 3:
                return None
            text, tx_power = frame.get("eid"), frame.get("tx_power")
            if text.__class__ is not str or not (
                tx_power.__class__ is int and -128 <= tx_power <= 127
            ):
                return None
            eid = eids.get(text)
            if eid is None:
                if not _HEX16.fullmatch(text):
                    return None
                eid = eids[text] = bytes.fromhex(text)
            heard.append(Heard(float(seen_at), rssi, "eddystone_eid", eid))
            continue
        read = _FRAMES.get(kind) if kind.__class__ is str else None
        found = read(frame, float(seen_at), rssi, beacon_id) if read is not None else None
        if found is None:
            return None
        heard.append(found)
    return Batch(batch_id, heard)


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

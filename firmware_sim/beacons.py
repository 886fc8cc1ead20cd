"""Beacon firmware: advertising schedule, interleaved frames, battery drain and TLM counters.

Pure: every function takes the beacon's configuration, its state and the time; the world
keeps the state and supplies the random advDelay draws.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field

from firmware_sim.eddystone import compute_eid
from firmware_sim.frames import (
    RADIUS_NETWORKS_COMPANY_ID,
    TLM_SEC_CNT_PER_S,
    AdvertParts,
    altbeacon,
    eddystone_eid,
    eddystone_tlm,
    eddystone_uid,
    eddystone_url,
    ibeacon,
)

# advDelay: a pseudo-random 0-10 ms the controller adds to every advertising interval so two
# beacons never stay in lockstep (Bluetooth Core spec v5.x, Vol 6, Part B, 4.4.2.2.1).
ADV_DELAY_MAX_S = 0.010
# Legal legacy advertising intervals: 20 ms to 10.24 s (Core spec Vol 6, Part B, 4.4.2.2.1).
MIN_ADV_INTERVAL_S = 0.020
MAX_ADV_INTERVAL_S = 10.24
# Placeholder: store beacons ship with 100 ms-1 s intervals; 1 s is the battery-friendly end.
DEFAULT_ADV_INTERVAL_S = 1.0
# Placeholder: radiated power of a beacon on its default setting (nRF52-class parts: -40..+4 dBm).
DEFAULT_BEACON_TX_POWER_DBM = 0
# Placeholder: loss from radiated power to the mean RSSI at 1 m (about 40 dB free space at
# 2.4 GHz plus antenna and enclosure losses); 59 dB puts a 0 dBm beacon on the channel's
# -59 dBm reference, the calibrated 1 m power most iBeacons advertise.
ONE_METRE_LOSS_DB = 59
# Eddystone's tx_power field is the power at 0 m: the 1 m value plus 41 dB (Eddystone spec).
EDDYSTONE_ZERO_METRE_GAIN_DB = 41
# A CR2032 coin cell: Energizer's datasheet rates 235 mAh, Panasonic's 225 mAh (to 2.0 V).
CR2032_CAPACITY_MAH = 230.0
# Placeholder: charge of one advertising event on three channels at 0 dBm (nRF52-class radio,
# ~1 ms of 5-10 mA per channel plus wake-up); gives ~1.5 years at 1 s, as vendors advertise.
DEFAULT_ADVERT_CHARGE_UC = 15.0
# Placeholder: sleep current between events (System ON, RTC running) of an nRF52-class part.
DEFAULT_SLEEP_CURRENT_UA = 2.0
# The coin-cell datasheets' end-point voltage (the curve's floor): the charge is spent there
# and the beacon browns out and goes silent.
CUTOFF_MV = 2000
# A CR2032 under light load: a long plateau near 3 V, then the knee (shape of the datasheet
# discharge curves; points are a placeholder). Remaining share of capacity -> millivolts.
VOLTAGE_CURVE: tuple[tuple[float, int], ...] = (
    (0.0, CUTOFF_MV),
    (0.02, 2400),
    (0.05, 2600),
    (0.1, 2750),
    (0.2, 2850),
    (0.5, 2900),
    (0.8, 2950),
    (1.0, 3000),
)
# Placeholder: a heated shop floor.
DEFAULT_TEMPERATURE_C = 21.0
COULOMBS_PER_MAH = 3.6
MICRO = 1e-6

FRAME_IBEACON = "ibeacon"
FRAME_ALTBEACON = "altbeacon"
FRAME_UID = "uid"
FRAME_URL = "url"
FRAME_TLM = "tlm"
FRAME_EID = "eid"
FRAME_NAMES = (FRAME_IBEACON, FRAME_ALTBEACON, FRAME_UID, FRAME_URL, FRAME_TLM, FRAME_EID)
KIND_IBEACON = "ibeacon"
KIND_ALTBEACON = "altbeacon"
KIND_EDDYSTONE = "eddystone"
BEACON_KINDS = (KIND_IBEACON, KIND_ALTBEACON, KIND_EDDYSTONE)


@dataclass(frozen=True)
class BatterySpec:
    """A coin cell and the load the firmware puts on it."""

    capacity_mah: float = CR2032_CAPACITY_MAH
    remaining_mah: float = CR2032_CAPACITY_MAH
    advert_charge_uc: float = DEFAULT_ADVERT_CHARGE_UC
    sleep_current_ua: float = DEFAULT_SLEEP_CURRENT_UA


@dataclass(frozen=True)
class BeaconIds:
    """The identifiers a beacon's frames carry; only those its frames need are set."""

    uuid: str | None = None
    major: int = 0
    minor: int = 0
    company_id: int = RADIUS_NETWORKS_COMPANY_ID
    id1: str | None = None
    id2: int = 0
    id3: int = 0
    namespace: str | None = None
    instance: str | None = None
    url: str | None = None
    identity_key: bytes | None = None
    rotation_exponent: int = 10
    # The beacon's EID clock runs at Unix time plus this offset (drift, or a clock set late).
    clock_offset_s: float = 0.0


@dataclass(frozen=True)
class BeaconSpec:
    """A beacon's configuration: what it sends, how often, how loud, on which battery."""

    name: str
    kind: str
    frames: tuple[str, ...]
    ids: BeaconIds
    interval_s: float = DEFAULT_ADV_INTERVAL_S
    tx_power_dbm: int = DEFAULT_BEACON_TX_POWER_DBM
    battery: BatterySpec = field(default_factory=BatterySpec)
    temperature_c: float | None = DEFAULT_TEMPERATURE_C
    uptime_s: float = 0.0
    address: str | None = None

    @property
    def rssi_at_1m_dbm(self) -> int:
        """Mean RSSI 1 m away, also the calibrated power the iBeacon/AltBeacon frames carry."""
        return self.tx_power_dbm - ONE_METRE_LOSS_DB


@dataclass(frozen=True)
class BeaconState:
    """Where the firmware is: next event time, ADV_CNT and adverts sent in this run."""

    next_advert_s: float
    adv_count: int
    adverts_sent: int = 0
    dead: bool = False


@dataclass(frozen=True)
class BeaconEvent:
    """One advertising event: the frame sent and the counters it carries."""

    t: float
    frame: str
    adv_count: int
    sec_count: int
    battery_mv: int


def static_address(name: str) -> str:
    """A stable static random address for a beacon (top bits 0b11, Core spec Vol 6 B 1.3.2.1)."""
    digest = hashlib.sha256(b"beacon:" + name.encode()).digest()
    octets = bytes([digest[0] | 0xC0]) + digest[1:6]
    return ":".join(f"{octet:02X}" for octet in octets)


def initial_state(spec: BeaconSpec, first_advert_s: float) -> BeaconState:
    """The state at scenario time 0: ADV_CNT as if the beacon had run `uptime_s` already."""
    mean_period = spec.interval_s + ADV_DELAY_MAX_S / 2
    return BeaconState(next_advert_s=first_advert_s, adv_count=int(spec.uptime_s / mean_period))


def charge_used_c(spec: BeaconSpec, adverts_sent: int, t: float) -> float:
    """Coulombs drawn since scenario time 0 after `adverts_sent` events, by time `t`."""
    battery = spec.battery
    return (adverts_sent * battery.advert_charge_uc + battery.sleep_current_ua * t) * MICRO


def remaining_share(spec: BeaconSpec, charge_c: float) -> float:
    """Share of the cell's rated capacity left after drawing `charge_c` coulombs."""
    battery = spec.battery
    left_mah = battery.remaining_mah - charge_c / COULOMBS_PER_MAH
    return max(left_mah / battery.capacity_mah, 0.0)


def battery_mv(share: float) -> int:
    """Cell voltage at a remaining share of capacity, interpolated on VOLTAGE_CURVE."""
    shares = [point[0] for point in VOLTAGE_CURVE]
    index = min(max(bisect.bisect_left(shares, share), 1), len(VOLTAGE_CURVE) - 1)
    (s0, v0), (s1, v1) = VOLTAGE_CURVE[index - 1], VOLTAGE_CURVE[index]
    share = min(max(share, s0), s1)
    return round(v0 + (v1 - v0) * (share - s0) / (s1 - s0))


def sec_count(spec: BeaconSpec, t: float) -> int:
    """TLM SEC_CNT at scenario time `t`: tenths of a second since the beacon booted."""
    return int((spec.uptime_s + t) * TLM_SEC_CNT_PER_S)


def advertise(
    spec: BeaconSpec, state: BeaconState, adv_delay_s: float
) -> tuple[BeaconEvent | None, BeaconState]:
    """Run the advertising event due at `state.next_advert_s`; None once the battery is dead.

    Args:
        adv_delay_s: this event's advDelay draw, in [0, ADV_DELAY_MAX_S].
    """
    if state.dead:
        return None, state
    t = state.next_advert_s
    share = remaining_share(spec, charge_used_c(spec, state.adverts_sent + 1, t))
    if share <= 0.0:
        return None, BeaconState(t, state.adv_count, state.adverts_sent, dead=True)
    adv_count = state.adv_count + 1
    event = BeaconEvent(
        t=t,
        frame=spec.frames[state.adverts_sent % len(spec.frames)],
        adv_count=adv_count,
        sec_count=sec_count(spec, t),
        battery_mv=battery_mv(share),
    )
    next_t = t + spec.interval_s + min(max(adv_delay_s, 0.0), ADV_DELAY_MAX_S)
    return event, BeaconState(next_t, adv_count, state.adverts_sent + 1)


def eid_time_counter(spec: BeaconSpec, unix_time: float) -> int:
    """The beacon's EID time counter: its own clock, Unix time plus its offset."""
    return int(unix_time + spec.ids.clock_offset_s)


def frame_parts(spec: BeaconSpec, event: BeaconEvent, unix_time: float) -> AdvertParts:
    """The bytes of `event`'s frame, sent at `unix_time`."""
    ids, power_1m = spec.ids, spec.rssi_at_1m_dbm
    power_0m = power_1m + EDDYSTONE_ZERO_METRE_GAIN_DB
    if event.frame == FRAME_IBEACON and ids.uuid is not None:
        return ibeacon(ids.uuid, ids.major, ids.minor, power_1m)
    if event.frame == FRAME_ALTBEACON and ids.id1 is not None:
        return altbeacon(ids.company_id, ids.id1, ids.id2, ids.id3, power_1m)
    if event.frame == FRAME_UID and ids.namespace is not None and ids.instance is not None:
        return eddystone_uid(power_0m, ids.namespace, ids.instance)
    if event.frame == FRAME_URL and ids.url is not None:
        return eddystone_url(power_0m, ids.url)
    if event.frame == FRAME_TLM:
        return eddystone_tlm(event.battery_mv, spec.temperature_c, event.adv_count, event.sec_count)
    if event.frame == FRAME_EID and ids.identity_key is not None:
        counter = eid_time_counter(spec, unix_time)
        return eddystone_eid(
            power_0m, compute_eid(ids.identity_key, ids.rotation_exponent, counter)
        )
    raise ValueError(f"beacon {spec.name}: cannot send a {event.frame!r} frame")


def frame_identifier(spec: BeaconSpec, frame: str, parts: AdvertParts) -> str | None:
    """What an app reading `frame` learns about the beacon; None for a TLM (no identity)."""
    ids = spec.ids
    if frame == FRAME_IBEACON:
        return f"ibeacon:{ids.uuid}:{ids.major}:{ids.minor}"
    if frame == FRAME_ALTBEACON:
        return f"altbeacon:{ids.id1}:{ids.id2}:{ids.id3}"
    if frame == FRAME_UID:
        return f"eddystone_uid:{ids.namespace}:{ids.instance}"
    if frame == FRAME_URL:
        return f"eddystone_url:{ids.url}"
    if frame == FRAME_EID:
        data = next(iter(parts.service_data.values()))
        return f"eddystone_eid:{data[2:].hex()}"
    return None


def frames_supported(ids: BeaconIds) -> list[str]:
    """The frame names a beacon with these identifiers can send (TLM needs none)."""
    present = {
        FRAME_IBEACON: ids.uuid is not None,
        FRAME_ALTBEACON: ids.id1 is not None,
        FRAME_UID: ids.namespace is not None and ids.instance is not None,
        FRAME_URL: ids.url is not None,
        FRAME_TLM: True,
        FRAME_EID: ids.identity_key is not None,
    }
    return [name for name, ok in present.items() if ok]

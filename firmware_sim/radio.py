"""The radio channel from a transmitter to a gateway: path loss, shadowing, loss, sensitivity."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Free-space propagation; indoor retail floors measure 1.8-3.0. A placeholder until we
# calibrate against captures from a real store.
DEFAULT_PATH_LOSS_EXPONENT = 2.0
# The calibrated 1 m power most iBeacon-class transmitters and phones advertise (-59 dBm);
# consistent with the phone's Eddystone tx_power of -20 dBm at 0 m minus ~41 dB to 1 m.
DEFAULT_RSSI_AT_1M_DBM = -59
# Log-normal shadowing spread; indoor BLE measurements report 3-6 dB. Placeholder midpoint.
DEFAULT_SHADOWING_SIGMA_DB = 4.0
# Share of adverts lost to collisions and scan-window gaps; a placeholder, real channels
# under load lose 5-30 %.
DEFAULT_PACKET_LOSS = 0.05
# Typical BLE 1M PHY receiver sensitivity of a Raspberry Pi class adapter.
DEFAULT_SENSITIVITY_DBM = -100
# log10(0) is undefined: closer than this the transmitter is treated as touching the antenna.
MIN_DISTANCE_M = 0.1
# The RSSI range a BLE controller reports (HCI LE Advertising Report: -127..+20 dBm).
MIN_REPORTED_RSSI = -127
MAX_REPORTED_RSSI = 20


@dataclass(frozen=True)
class ChannelParams:
    """Tunables of the radio channel; see the module constants for why each default."""

    path_loss_exponent: float = DEFAULT_PATH_LOSS_EXPONENT
    rssi_at_1m_dbm: int = DEFAULT_RSSI_AT_1M_DBM
    shadowing_sigma_db: float = DEFAULT_SHADOWING_SIGMA_DB
    packet_loss: float = DEFAULT_PACKET_LOSS
    sensitivity_dbm: int = DEFAULT_SENSITIVITY_DBM

    def __post_init__(self) -> None:
        if self.path_loss_exponent <= 0:
            raise ValueError("path_loss_exponent must be > 0")
        if self.shadowing_sigma_db < 0:
            raise ValueError("shadowing_sigma_db must be >= 0")
        if not 0.0 <= self.packet_loss <= 1.0:
            raise ValueError("packet_loss must be in [0, 1]")


def mean_rssi(params: ChannelParams, distance_m: float) -> float:
    """Mean received power at `distance_m` by the log-distance path loss model."""
    distance = max(distance_m, MIN_DISTANCE_M)
    return params.rssi_at_1m_dbm - 10.0 * params.path_loss_exponent * math.log10(distance)


def received_rssi(params: ChannelParams, distance_m: float, rng: random.Random) -> int | None:
    """RSSI of one advert heard at `distance_m`, or None when the gateway does not hear it."""
    if rng.random() < params.packet_loss:
        return None
    rssi = round(mean_rssi(params, distance_m) + rng.gauss(0.0, params.shadowing_sigma_db))
    if rssi < params.sensitivity_dbm:
        return None
    return min(max(rssi, MIN_REPORTED_RSSI), MAX_REPORTED_RSSI)

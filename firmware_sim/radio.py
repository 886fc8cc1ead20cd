"""The radio channel: path loss, a shadowing field, fading, walls, body, loss, scanning."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Free-space propagation; indoor retail floors measure 1.8-3.0 (the "harsh retail" figure the
# project cites is 2.2). A placeholder until we calibrate against captures from a real store.
DEFAULT_PATH_LOSS_EXPONENT = 2.0
# The calibrated 1 m power most iBeacon-class transmitters and phones advertise (-59 dBm);
# consistent with the phone's Eddystone tx_power of -20 dBm at 0 m minus ~41 dB to 1 m.
DEFAULT_RSSI_AT_1M_DBM = -59
# Log-normal shadowing spread; indoor BLE measurements report 3-6 dB (the "harsh retail"
# figure the project cites is 8.7 dB). Placeholder midpoint. Shadowing is a property of the
# place, not of the packet: it is drawn from a field over the floor (ShadowingField), so a
# phone lying still keeps its offset and only fast fading varies from packet to packet.
DEFAULT_SHADOWING_SIGMA_DB = 4.0
# Distance over which shadowing decorrelates to 1/e, the exponential model of Gudmundson
# ("Correlation model for shadow fading in mobile radio systems", Electronics Letters 1991).
# Indoor 2.4 GHz measurements put it at one to a few metres (shelving, people and walls are
# closer together than outdoor buildings); placeholder 2 m until measured in a store.
DEFAULT_SHADOWING_DECORRELATION_M = 2.0
# A still phone's link still varies from moment to moment as people, trolleys and doors move
# around it, beyond what one packet's fading does: static BLE links in occupied rooms vary by a
# few dB over seconds. Placeholder 2 dB per packet until measured in a store. (It also keeps a
# passively scanning BlueZ, which signals only RSSI changes of 8 dB or more, updating about as
# often as a real one does.)
DEFAULT_TEMPORAL_SIGMA_DB = 2.0
# Plane waves summed to draw one shadowing field (random Fourier features): 32 give a
# near-Gaussian marginal and the exponential correlation within a few per cent.
SHADOWING_COMPONENTS = 32
# Distinct positions remembered per field; someone standing still re-reads the same one.
SHADOWING_CACHE_SIZE = 4096
# Share of adverts lost to collisions; a placeholder, real channels under load lose 5-30 %.
# Scan-window gaps are modelled separately by the duty cycle below.
DEFAULT_PACKET_LOSS = 0.05
# Typical BLE 1M PHY receiver sensitivity of a Raspberry Pi class adapter.
DEFAULT_SENSITIVITY_DBM = -100
# Rician K factor (linear) of per-packet fast fading: 0 is Rayleigh (no line of sight), large
# K approaches no fading. Placeholder: a modest line-of-sight component across an open shop
# floor (K = 2, about 3 dB), until calibrated on captures. None turns fast fading off.
DEFAULT_RICIAN_K: float | None = 2.0
# BlueZ discovery (bleak's StartDiscovery) scans with the LE General Discovery parameters,
# interval = window = 0x0012 x 0.625 ms = 11.25 ms: a 100 % duty cycle
# (Linux include/net/bluetooth/hci_core.h, DISCOV_LE_SCAN_INT / DISCOV_LE_SCAN_WIN).
DEFAULT_SCAN_INTERVAL_S = 0.01125
DEFAULT_SCAN_WINDOW_S = 0.01125
# log10(0) is undefined: closer than this the transmitter is treated as touching the antenna.
MIN_DISTANCE_M = 0.1
# The RSSI range a BLE controller reports (HCI LE Advertising Report: -127..+20 dBm).
MIN_REPORTED_RSSI = -127
MAX_REPORTED_RSSI = 20
# A deep fade of exactly zero power has no dB value: floor it far below any sensitivity.
MIN_FADING_POWER = 1e-12


@dataclass(frozen=True)
class ChannelParams:
    """Tunables of the radio channel; see the module constants for why each default."""

    path_loss_exponent: float = DEFAULT_PATH_LOSS_EXPONENT
    rssi_at_1m_dbm: int = DEFAULT_RSSI_AT_1M_DBM
    shadowing_sigma_db: float = DEFAULT_SHADOWING_SIGMA_DB
    shadowing_decorrelation_m: float = DEFAULT_SHADOWING_DECORRELATION_M
    temporal_sigma_db: float = DEFAULT_TEMPORAL_SIGMA_DB
    packet_loss: float = DEFAULT_PACKET_LOSS
    sensitivity_dbm: int = DEFAULT_SENSITIVITY_DBM
    rician_k: float | None = DEFAULT_RICIAN_K
    scan_interval_s: float = DEFAULT_SCAN_INTERVAL_S
    scan_window_s: float = DEFAULT_SCAN_WINDOW_S

    def __post_init__(self) -> None:
        if self.path_loss_exponent <= 0:
            raise ValueError("path_loss_exponent must be > 0")
        if self.shadowing_sigma_db < 0:
            raise ValueError("shadowing_sigma_db must be >= 0")
        if self.temporal_sigma_db < 0:
            raise ValueError("temporal_sigma_db must be >= 0")
        if self.shadowing_decorrelation_m <= 0:
            raise ValueError("shadowing_decorrelation_m must be > 0")
        if not 0.0 <= self.packet_loss <= 1.0:
            raise ValueError("packet_loss must be in [0, 1]")
        if self.rician_k is not None and self.rician_k < 0:
            raise ValueError("rician_k must be >= 0 (or None for no fast fading)")
        if self.scan_interval_s <= 0 or not 0 < self.scan_window_s <= self.scan_interval_s:
            raise ValueError("need 0 < scan_window_s <= scan_interval_s")

    @property
    def duty_cycle(self) -> float:
        """Share of the time the scanner listens."""
        return self.scan_window_s / self.scan_interval_s


def mean_rssi(
    params: ChannelParams, distance_m: float, rssi_at_1m_dbm: float | None = None
) -> float:
    """Mean received power at `distance_m` by the log-distance path loss model."""
    reference = params.rssi_at_1m_dbm if rssi_at_1m_dbm is None else rssi_at_1m_dbm
    distance = max(distance_m, MIN_DISTANCE_M)
    return reference - 10.0 * params.path_loss_exponent * math.log10(distance)


def fading_db(rician_k: float | None, rng: random.Random) -> float:
    """One draw of Rician fast fading in dB (unit mean power); 0 when fading is off."""
    if rician_k is None:
        return 0.0
    line_of_sight = math.sqrt(rician_k / (rician_k + 1.0))
    scatter = math.sqrt(1.0 / (2.0 * (rician_k + 1.0)))
    in_phase = line_of_sight + scatter * rng.gauss(0.0, 1.0)
    quadrature = scatter * rng.gauss(0.0, 1.0)
    return 10.0 * math.log10(max(in_phase * in_phase + quadrature * quadrature, MIN_FADING_POWER))


def in_scan_window(params: ChannelParams, t: float, phase_s: float = 0.0) -> bool:
    """Whether a scanner whose windows start at `phase_s` (mod interval) listens at time `t`."""
    if params.scan_window_s >= params.scan_interval_s:
        return True
    return (t - phase_s) % params.scan_interval_s < params.scan_window_s


class ShadowingField:
    """Shadowing around one fixed antenna, in dB, as a stationary Gaussian field over the floor.

    A sum of plane waves with random directions, phases and wave numbers drawn from the
    spectrum of the exponential correlation exp(-d / decorrelation) (Gudmundson's model): in
    two dimensions its radial spectral density is k (1 + (k L)^2)^(-3/2), whose inverse CDF is
    k = sqrt(u^-2 - 1) / L. Points closer than L have similar values, points far apart
    independent ones; the same point always has the same value.
    """

    def __init__(self, sigma_db: float, decorrelation_m: float, rng: random.Random) -> None:
        self._waves: list[tuple[float, float, float]] = []
        for _ in range(SHADOWING_COMPONENTS):
            u = 1.0 - rng.random()  # (0, 1]
            k = math.sqrt(1.0 / (u * u) - 1.0) / decorrelation_m
            direction = rng.uniform(0.0, 2.0 * math.pi)
            phase = rng.uniform(0.0, 2.0 * math.pi)
            self._waves.append((k * math.cos(direction), k * math.sin(direction), phase))
        self._amplitude = sigma_db * math.sqrt(2.0 / SHADOWING_COMPONENTS)
        self._cache: dict[tuple[float, float], float] = {}

    def at(self, x: float, y: float) -> float:
        """The shadowing offset in dB at (x, y)."""
        value = self._cache.get((x, y))
        if value is None:
            value = self._amplitude * sum(
                math.cos(kx * x + ky * y + phase) for kx, ky, phase in self._waves
            )
            if len(self._cache) >= SHADOWING_CACHE_SIZE:
                self._cache.clear()
            self._cache[(x, y)] = value
        return value


def received_rssi(
    params: ChannelParams,
    distance_m: float,
    rng: random.Random,
    rssi_at_1m_dbm: float | None = None,
    wall_loss_db: float = 0.0,
    shadowing_db: float = 0.0,
    body_loss_db: float = 0.0,
) -> int | None:
    """RSSI of one advert heard at `distance_m`, or None when the receiver does not hear it.

    Args:
        rssi_at_1m_dbm: the transmitter's own mean RSSI at 1 m (default: the channel's).
        wall_loss_db: attenuation of the walls between transmitter and receiver.
        shadowing_db: the link's shadowing offset (a `ShadowingField` value; steady in place).
        body_loss_db: loss through the body of the person carrying the phone.
    """
    if rng.random() < params.packet_loss:
        return None
    rssi = round(
        mean_rssi(params, distance_m, rssi_at_1m_dbm)
        - wall_loss_db
        - body_loss_db
        + shadowing_db
        + fading_db(params.rician_k, rng)
        + rng.gauss(0.0, params.temporal_sigma_db)
    )
    if rssi < params.sensitivity_dbm:
        return None
    return min(max(rssi, MIN_REPORTED_RSSI), MAX_REPORTED_RSSI)

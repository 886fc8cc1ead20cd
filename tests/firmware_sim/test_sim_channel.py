"""The channel's newer parts: fast fading, walls and the scanner's duty cycle."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import math
import random
import statistics

import pytest

from firmware_sim.radio import ChannelParams, fading_db, in_scan_window, received_rssi
from firmware_sim.scenario import Point, Wall
from firmware_sim.world import segments_intersect, walls_crossed

QUIET = ChannelParams(
    shadowing_sigma_db=0.0,
    packet_loss=0.0,
    rician_k=None,
    sensitivity_dbm=-200,
    temporal_sigma_db=0.0,
)
# E[10 log10(X)] for X exponential with unit mean: -10 * Euler-Mascheroni / ln 10.
RAYLEIGH_MEAN_DB = -10 * 0.5772156649 / math.log(10)


def _mean(params: ChannelParams, seed: int, **kwargs: float) -> float:
    rng = random.Random(seed)
    values = [received_rssi(params, 5.0, rng, **kwargs) for _ in range(20_000)]
    return statistics.fmean(v for v in values if v is not None)


def test_rayleigh_fading_lowers_the_mean_by_2_5_db() -> None:
    rng = random.Random(3)
    draws = [fading_db(0.0, rng) for _ in range(40_000)]
    assert statistics.fmean(draws) == pytest.approx(RAYLEIGH_MEAN_DB, abs=0.15)
    faded = _mean(ChannelParams(**{**QUIET.__dict__, "rician_k": 0.0}), 4)
    assert faded == pytest.approx(_mean(QUIET, 4) + RAYLEIGH_MEAN_DB, abs=0.2)


def test_strong_line_of_sight_fades_less_than_rayleigh() -> None:
    rng = random.Random(5)
    rician = [fading_db(10.0, rng) for _ in range(20_000)]
    rayleigh = [fading_db(0.0, rng) for _ in range(20_000)]
    assert statistics.pstdev(rician) < statistics.pstdev(rayleigh) / 2
    assert RAYLEIGH_MEAN_DB < statistics.fmean(rician) < 0


def test_walls_lower_the_mean_by_their_attenuation() -> None:
    assert _mean(QUIET, 1, wall_loss_db=13.0) == pytest.approx(_mean(QUIET, 1) - 13.0)


def test_wall_crossings_are_counted_between_transmitter_and_receiver() -> None:
    walls = (
        Wall(Point(0, 0), Point(10, 0), 3.0),
        Wall(Point(0, 5), Point(10, 5), 10.0),
        Wall(Point(20, -5), Point(20, 5), 7.0),
    )
    crossed = walls_crossed(walls, Point(5, -1), Point(5, 6))
    assert [w.attenuation_db for w in crossed] == [3.0, 10.0]
    assert walls_crossed(walls, Point(5, 1), Point(5, 4)) == []
    assert segments_intersect(Point(0, 0), Point(2, 2), Point(2, 2), Point(3, 0))


def test_half_duty_cycle_hears_about_half() -> None:
    params = ChannelParams(scan_interval_s=0.06, scan_window_s=0.03)
    rng = random.Random(2)
    times = [rng.uniform(0, 1000) for _ in range(20_000)]
    share = sum(in_scan_window(params, t, 0.013) for t in times) / len(times)
    assert share == pytest.approx(0.5, abs=0.02)
    assert params.duty_cycle == 0.5


def test_default_scanner_listens_all_the_time() -> None:
    assert ChannelParams().duty_cycle == 1.0
    assert all(in_scan_window(ChannelParams(), t / 7.0) for t in range(1000))


@pytest.mark.parametrize(
    "kwargs",
    [{"rician_k": -1.0}, {"scan_window_s": 0.2, "scan_interval_s": 0.1}, {"scan_interval_s": 0.0}],
)
def test_bad_channel_settings_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ChannelParams(**kwargs)  # type: ignore[arg-type]

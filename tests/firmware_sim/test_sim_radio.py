"""The radio channel: path loss shape, sensitivity, loss and seeded reproducibility."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import random
import statistics

import pytest

from firmware_sim.radio import ChannelParams, mean_rssi, received_rssi

NO_NOISE = ChannelParams(
    shadowing_sigma_db=0.0, packet_loss=0.0, rician_k=None, temporal_sigma_db=0.0
)


def test_mean_rssi_at_one_metre_is_the_reference() -> None:
    assert mean_rssi(ChannelParams(), 1.0) == ChannelParams().rssi_at_1m_dbm


def test_mean_rssi_falls_with_distance() -> None:
    distances = [0.05, 0.5, 1, 2, 4, 8, 16, 32]
    means = [mean_rssi(ChannelParams(), d) for d in distances]
    assert means == sorted(means, reverse=True)
    assert means[0] > means[1]


def test_mean_rssi_is_clamped_near_the_antenna() -> None:
    assert mean_rssi(ChannelParams(), 0.0) == mean_rssi(ChannelParams(), 0.1) == -39.0


def test_sampled_mean_falls_with_distance() -> None:
    rng = random.Random(7)
    sampled = []
    for distance in (1, 3, 9, 27):
        heard = [received_rssi(ChannelParams(), distance, rng) for _ in range(400)]
        sampled.append(statistics.fmean(r for r in heard if r is not None))
    assert sampled == sorted(sampled, reverse=True)


def test_nothing_heard_below_sensitivity() -> None:
    rng = random.Random(1)
    # -59 - 20*log10(2000) = -125 dBm, far below -100 dBm.
    assert all(received_rssi(NO_NOISE, 2000.0, rng) is None for _ in range(100))
    assert all(received_rssi(NO_NOISE, 10.0, rng) == -79 for _ in range(100))


def test_noisy_rssi_never_below_sensitivity() -> None:
    rng = random.Random(2)
    params = ChannelParams(shadowing_sigma_db=8.0)
    heard = [received_rssi(params, 80.0, rng) for _ in range(2000)]
    values = [r for r in heard if r is not None]
    assert values and min(values) >= params.sensitivity_dbm
    assert None in heard


def test_packet_loss_one_loses_everything() -> None:
    rng = random.Random(3)
    params = ChannelParams(packet_loss=1.0)
    assert all(received_rssi(params, 1.0, rng) is None for _ in range(100))


def test_same_seed_same_air() -> None:
    first = [received_rssi(ChannelParams(), 5.0, random.Random(42)) for _ in range(3)]
    rng_a, rng_b = random.Random(42), random.Random(42)
    run_a = [received_rssi(ChannelParams(), 5.0, rng_a) for _ in range(200)]
    run_b = [received_rssi(ChannelParams(), 5.0, rng_b) for _ in range(200)]
    assert run_a == run_b
    assert len(set(first)) == 1
    assert len(set(run_a)) > 3


@pytest.mark.parametrize(
    "kwargs",
    [{"packet_loss": 1.5}, {"shadowing_sigma_db": -1.0}, {"path_loss_exponent": 0.0}],
)
def test_channel_params_reject_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ChannelParams(**kwargs)  # type: ignore[arg-type]

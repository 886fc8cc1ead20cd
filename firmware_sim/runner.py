"""The imperative shell that plays a world against a clock and sends what the air carries."""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TextIO

from firmware_sim.clock import Clock
from firmware_sim.radio_link import RadioLinkServer
from firmware_sim.wire import AdvertJson
from firmware_sim.world import World, adverts_at, ground_truth_at

logger = logging.getLogger(__name__)


@dataclass
class RunCounters:
    """What one or more scenario runs produced."""

    runs: int = 0
    seconds: int = 0
    adverts_heard: int = 0


class AdvertSink(Protocol):
    """Something that shows gateways what they hear: the radio link, the virtual BlueZ."""

    def publish(self, gateway: str, advert: AdvertJson) -> None:
        """Hand over one advert heard by `gateway`; must not block."""


@dataclass(frozen=True)
class RunOutputs:
    """Where a run sends what it produces; None means not wanted."""

    link: RadioLinkServer | None = None
    sinks: tuple[AdvertSink, ...] = ()
    air_log: TextIO | None = None
    ground_truth: TextIO | None = None
    progress: Callable[[int, int], None] | None = None  # (seconds played, seconds in the run)


def ground_truth_lines(world: World, second: int) -> list[str]:
    """The ground-truth JSON lines of every person at scenario second `second`."""
    unix_time = world.unix_start + second
    return [
        json.dumps({"t": unix_time, "scenario_t": second, "person": person, "state": state})
        for person, state in ground_truth_at(world.scenario, second).items()
    ]


async def run_world(
    world: World,
    clock: Clock,
    rng: random.Random,
    duration_s: float,
    outputs: RunOutputs,
    counters: RunCounters,
) -> None:
    """Play `duration_s` seconds of the world, pacing every advert by `clock`."""
    counters.runs += 1
    logger.info(
        "runner.scenario_started scenario=%s duration_s=%g", world.scenario.name, duration_s
    )
    for second in range(math.ceil(duration_s)):
        await clock.sleep_until(world.unix_start + second)
        if outputs.ground_truth is not None:
            outputs.ground_truth.write(
                "".join(line + "\n" for line in ground_truth_lines(world, second))
            )
            outputs.ground_truth.flush()
        for advert in adverts_at(world, second, rng):
            await clock.sleep_until(advert.unix_time)
            counters.adverts_heard += 1
            if outputs.link is not None:
                outputs.link.publish(advert.gateway, advert.advert)
            for sink in outputs.sinks:
                sink.publish(advert.gateway, advert.advert)
            if outputs.air_log is not None:
                record = {
                    "t": advert.unix_time,
                    "person": advert.person,
                    "gateway": advert.gateway,
                    "rssi": advert.rssi,
                }
                outputs.air_log.write(json.dumps(record) + "\n")
        if outputs.air_log is not None:
            outputs.air_log.flush()
        counters.seconds += 1
        if outputs.progress is not None:
            outputs.progress(second + 1, math.ceil(duration_s))
    await clock.sleep_until(world.unix_start + duration_s)
    logger.info(
        "runner.scenario_finished scenario=%s adverts_heard=%d",
        world.scenario.name,
        counters.adverts_heard,
    )


async def run_scenario_loop(
    world: World,
    clock: Clock,
    rng: random.Random,
    duration_s: float,
    outputs: RunOutputs,
    loop: bool,
) -> RunCounters:
    """Run the world once, or over and over back to back when `loop` is set."""
    counters = RunCounters()
    while True:
        await run_world(world, clock, rng, duration_s, outputs, counters)
        if not loop:
            return counters
        world = replace(world, unix_start=world.unix_start + duration_s)

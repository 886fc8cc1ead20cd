"""Simulator throughput: adverts generated per CPU second on the virtual clock.

Plays a built-in scenario (default `busy-saturday`: an hour, ~200 shoppers, ~300 walk-bys,
four fixed beacons) second by second through `firmware_sim.world.air_at`, the pure core the
runner drives, and reports CPU seconds, gateway adverts, phone sightings and rates.

    python -m bench.sim_throughput [--scenario NAME] [--seed N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from firmware_sim.builtin_scenarios import builtin_scenario
from firmware_sim.radio import ChannelParams
from firmware_sim.world import air_at, build_world, ground_truth_at

DEFAULT_SCENARIO = "busy-saturday"
# Any fixed Unix time: EIDs depend on it, throughput does not.
UNIX_START = 1_764_054_000.0


def measure(scenario_name: str, seed: int) -> dict[str, Any]:
    """Play the whole scenario once and time it on the process clock."""
    scenario = builtin_scenario(scenario_name)
    rng = random.Random(seed)  # noqa: S311 - simulation noise, reproducible by design
    started = time.process_time()
    world = build_world(scenario, {}, ChannelParams(), UNIX_START, rng)
    adverts = sightings = truth_rows = 0
    for second in range(int(scenario.duration_s)):
        air = air_at(world, second, rng)
        adverts += len(air.adverts)
        sightings += len(air.sightings)
        truth_rows += len(ground_truth_at(scenario, second))
    cpu_s = time.process_time() - started
    return {
        "scenario": scenario_name,
        "seed": seed,
        "people": len(scenario.people),
        "scenario_s": scenario.duration_s,
        "cpu_s": round(cpu_s, 3),
        "adverts": adverts,
        "sightings": sightings,
        "ground_truth_rows": truth_rows,
        "adverts_per_cpu_s": round(adverts / cpu_s),
        "events_per_cpu_s": round((adverts + sightings) / cpu_s),
        "speed_up_over_real_time": round(scenario.duration_s / cpu_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.sim_throughput", description=__doc__)
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    result = measure(args.scenario, args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<26}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

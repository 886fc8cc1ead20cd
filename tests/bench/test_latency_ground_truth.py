"""The latency bench starts its clock when the simulated shopper truly crosses the door."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.latency import door_crossings, scenario, scenario_unix_start
from firmware_sim.scenario import scenario_from_dict
from firmware_sim.world import position_at


def test_every_shopper_crosses_the_door_line_at_the_found_moment() -> None:
    document = scenario(3, 4.0)
    played = {p.name: p for p in scenario_from_dict(document).people}
    crossings = door_crossings(document)
    assert set(crossings) == set(played)
    for name, t in crossings.items():
        before, after = position_at(played[name], t - 0.05), position_at(played[name], t)
        assert before is not None and after is not None
        assert before.y < 0 <= after.y, "outside just before, inside the store from then on"
    # 8 m at 1.2 m/s after each start.
    assert crossings["shopper-01"] == pytest.approx(2 + 8 / 1.2, abs=0.02)


def test_scenario_time_zero_comes_from_the_ground_truth_log(tmp_path: Path) -> None:
    log = tmp_path / "truth.jsonl"
    lines = [{"t": 1000.5 + s, "scenario_t": s, "person": "p", "state": "outside"} for s in (3, 4)]
    log.write_text("\n".join(json.dumps(line) for line in lines))
    assert scenario_unix_start(log) == 1000.5

"""The accuracy bench runs a short scenario end to end and reports every figure, every rule."""

from __future__ import annotations

import json
import subprocess
import sys

NUMBER = (float, int, type(None))
KEYS: dict[str, type | tuple[type, ...]] = {
    "people": int,
    "true_visits": int,
    "enter_latency_p50_s": NUMBER,
    "enter_latency_p95_s": NUMBER,
    "exit_latency_p95_s": NUMBER,
    "zone_accuracy": NUMBER,
    "bay_accuracy": NUMBER,
    "bay_arrival_p95_s": NUMBER,
    "walkby_false_entry_rate": NUMBER,
    "walkby_event_precision": NUMBER,
    "dwell_latency_p95_s": NUMBER,
    "flaps_per_stationary_hour": NUMBER,
    "missed_arrivals": int,
    "premature_arrivals": int,
    "missed_exits": int,
    "missed_dwells": int,
    "early_dwells": int,
    "missed_bay_arrivals": int,
    "early_exits": int,
    "walk_bys": int,
    "walk_by_events": int,
}
RULES = {"fusion", "ha_ibeacon", "bermuda", "espresense"}


def _bench(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench", "accuracy", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def test_accuracy_command_reports_every_metric_of_every_rule() -> None:
    report = json.loads(_bench("--scenario", "browse", "--seed", "1", "--baselines", "--json"))
    assert report["scenario"] == "browse"
    assert report["counted"] == 2 and report["left_out"] == 0
    assert set(report["rules"]) == RULES
    for rule, figures in report["rules"].items():
        for key, kind in KEYS.items():
            assert isinstance(figures[key], kind), (rule, key, figures[key])
        assert figures["people"] == 2 and figures["true_visits"] == 2
        assert set(figures["by_group"]) == {"android-foreground", "ios-background"}
        for group in figures["by_group"].values():
            assert set(KEYS) <= set(group)
        assert figures["zone_accuracy"] is not None and 0.0 <= figures["zone_accuracy"] <= 1.0


def test_accuracy_text_report_has_a_row_per_rule_and_group() -> None:
    text = _bench("--scenario", "pickup-door", "--seed", "1", "--baselines")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["scenario", "rule", "group"]
    rows = {tuple(line.split()[1:3]) for line in lines[1:]}
    assert {(rule, "all") for rule in RULES} <= rows
    assert ("fusion", "android-foreground") in rows


def test_every_fusion_tunable_is_a_flag_and_the_report_names_the_values_swept() -> None:
    args = ("--scenario", "pickup-door", "--seed", "1", "--json")
    report = json.loads(_bench(*args, "--zone-dwell-s", "20", "--bay-arrival-s", "4"))
    assert report["fusion_params"] == {"zone_dwell_s": 20.0, "bay_arrival_s": 4.0}
    assert "fusion_params" not in json.loads(_bench(*args))


def test_the_place_filter_decides_when_swept_on_and_the_report_is_complete() -> None:
    args = ("--scenario", "browse", "--seed", "1", "--json", "--filter-decisions", "1")
    report = json.loads(_bench(*args, "--model-path-loss-exponent", "2.2"))
    assert report["fusion_params"] == {"filter_decisions": 1.0, "model_path_loss_exponent": 2.2}
    figures = report["rules"]["fusion"]
    for key, kind in KEYS.items():
        assert isinstance(figures[key], kind), (key, figures[key])
    assert figures["true_visits"] == 2

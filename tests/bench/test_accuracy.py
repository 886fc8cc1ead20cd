"""The accuracy bench runs a short scenario end to end and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys

KEYS: dict[str, type | tuple[type, ...]] = {
    "enter_latency_p50_s": float,
    "enter_latency_p95_s": float,
    "exit_latency_p95_s": (float, type(None)),
    "zone_accuracy": float,
    "walkby_false_entry_rate": (float, type(None)),
    "flaps_per_stationary_hour": float,
    "walkby_event_precision": (float, type(None)),
    "dwell_event_latency_p95_s": (float, type(None)),
    "missed_dwell_events": int,
    "missed_arrivals": int,
}


def test_accuracy_command_reports_every_metric() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bench",
            "accuracy",
            "--scenario",
            "pickup-door",
            "--seed",
            "1",
            "--json",
            "--zone-dwell-s",  # any fusion tunable is a flag
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout)
    for key, kind in KEYS.items():
        assert isinstance(report[key], kind), (key, report[key])
    assert report["scenario"] == "pickup-door" and report["true_visits"] == 1
    assert report["missed_arrivals"] == 0
    assert 0.0 <= report["zone_accuracy"] <= 1.0
    assert set(report["by_app_state"]) == {"foreground"}
    assert report["fusion_params"] == {"zone_dwell_s": 20.0}

"""The fan-out bench's arithmetic: the ratios' spread, the collections in a window, the steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.fanout import GcLog, Steps, gc_figures, spread


def test_spread_is_the_median_of_the_runs_ratios_and_their_range() -> None:
    assert spread([1.56, 0.72, 1.58]) == {"median": 1.56, "min": 0.72, "max": 1.58}
    assert spread([1.0, 2.0]) == {"median": 1.5, "min": 1.0, "max": 2.0}


def test_gc_figures_count_each_generation_and_the_long_pauses() -> None:
    figures = gc_figures([(0, 0.001), (0, 0.030), (1, 0.004), (2, 1.2)])
    assert figures == {
        "collections": [2, 1, 1],
        "total_ms": 1235.0,
        "longest_ms": 1200.0,
        "over_20ms": 2,
    }


def test_only_the_collections_started_within_the_window_count(tmp_path: Path) -> None:
    log = GcLog(tmp_path)
    (tmp_path / "gc-1.log").write_text("0 9.5 0.001\n2 10.5 0.800\n")
    (tmp_path / "gc-2.log").write_text("1 11.0 0.010\n0 12.5 0.002\n")
    during = log.during(10.0, 12.0)
    assert during is not None
    assert during["collections"] == [0, 1, 1]
    assert GcLog(None).during(10.0, 12.0) is None


def test_steps_report_the_median_answer_and_first_delivery() -> None:
    steps = Steps()
    steps.add(10.0, 10.030, [10.050, 10.040, 10.200])
    steps.add(20.0, 20.010, [20.020, 20.300])
    steps.add(30.0, 30.020, [30.030])
    assert steps.figures() == {"answered_p50_ms": 20.0, "first_heard_p50_ms": 30.0}


def test_the_probe_logs_the_collections_of_a_forked_process_only(tmp_path: Path) -> None:
    script = (
        "import gc, os\n"
        "gc.collect()\n"  # the parent: not logged
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    gc.collect(); os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    env = {**os.environ, **GcLog(tmp_path).env()}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)  # noqa: S603
    logs = list(tmp_path.glob("gc-*.log"))
    assert len(logs) == 1  # the child's; the parent, started with the probe, logs nothing
    assert "2" in [line.split()[0] for line in logs[0].read_text().splitlines()]

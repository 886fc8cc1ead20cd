"""beacon-sim's command line, in-process and as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_sim.builtin_scenarios import builtin_scenario_names
from firmware_sim.cli import main

LISTENING_LINE = re.compile(r"radio link listening on 127\.0\.0\.1:(\d+)\n")
DEADLINE_S = 10.0


def test_list_names_every_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == builtin_scenario_names()
    assert all(len(line.split("\t")[1]) > 10 for line in lines)


def test_run_writes_ground_truth_and_air_log(tmp_path: Path) -> None:
    truth_file, air_file, phones_file = (
        tmp_path / "truth.jsonl",
        tmp_path / "air.jsonl",
        tmp_path / "phones.json",
    )
    phones_file.write_text(json.dumps({"phones": [{"person": "maria", "identity_key": "00" * 16}]}))
    argv = ["run", "--scenario", "pickup-door", "--speed", "max", "--duration", "30"]
    argv += ["--ground-truth", str(truth_file), "--air-log", str(air_file)]
    argv += ["--phones", str(phones_file), "--seed", "9"]
    assert main(argv) == 0
    truth = [json.loads(line) for line in truth_file.read_text().splitlines()]
    assert [t["scenario_t"] for t in truth] == list(range(30))
    assert {t["person"] for t in truth} == {"maria"}
    assert "entrance" in {t["state"] for t in truth}
    assert all(
        b["t"] - a["t"] == pytest.approx(1.0) for a, b in zip(truth, truth[1:], strict=False)
    )
    air = [json.loads(line) for line in air_file.read_text().splitlines()]
    assert len(air) > 30
    assert set(air[0]) == {"t", "person", "gateway", "rssi"}
    assert truth[0]["t"] <= air[0]["t"] < truth[-1]["t"] + 1


def test_run_is_reproducible_with_a_seed(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        air_file = tmp_path / f"{name}.jsonl"
        argv = ["run", "--scenario", "walk-by", "--speed", "max", "--seed", "4"]
        assert main([*argv, "--air-log", str(air_file)]) == 0
        runs.append(
            [(r["gateway"], r["rssi"]) for r in map(json.loads, air_file.read_text().splitlines())]
        )
    assert runs[0] == runs[1] and runs[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--scenario", "no-such-scenario"],
        ["run", "--scenario", "pickup-door", "--packet-loss", "2"],
        ["run", "--scenario", "pickup-door", "--phones", "/nonexistent/phones.json"],
    ],
)
def test_run_rejects_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "beacon-sim:" in capsys.readouterr().err


def test_bad_speed_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--scenario", "demo", "--speed", "fast"])
    assert exit_info.value.code == 2


def test_subprocess_announces_listening_and_exits_cleanly_on_sigterm() -> None:
    command = [sys.executable, "-m", "firmware_sim", "run", "--scenario", "demo"]
    command += ["--speed", "10", "--loop", "--radio-listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the process prints it once listening, then nothing
        match = LISTENING_LINE.fullmatch(line)
        assert match and int(match.group(1)) > 0, line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_S) == 0
        _, stderr = process.communicate(timeout=DEADLINE_S)
        assert "beacon_sim.stopped signal=True" in stderr
        assert "maria" not in stderr and "leo" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_module_entry_point_lists_scenarios() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "firmware_sim", "list"],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("pickup-door\t")


def test_progress_bar_text() -> None:
    from firmware_sim.cli import progress_bar

    assert progress_bar(0, 3600, width=10) == "[..........]     0/3600 s   0%"
    assert progress_bar(1800, 3600, width=10) == "[#####.....]  1800/3600 s  50%"
    assert progress_bar(3600, 3600, width=10) == "[##########]  3600/3600 s 100%"


def test_progress_on_draws_the_bar_on_stderr() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware_sim",
            "run",
            "--scenario",
            "walk-by",
            "--speed",
            "max",
            "--duration",
            "20",
            "--progress",
            "on",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "20/20 s 100%" in result.stderr
    assert "[" not in result.stdout

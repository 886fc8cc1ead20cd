"""The command line: settings errors exit 2; ``python -m gateway run`` as a real process."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.cli import main, read_env_file
from gateway.settings import SettingsError

if TYPE_CHECKING:
    from conftest import RecordingServer

TESTS_DIR = Path(__file__).resolve().parent
READY_TIMEOUT_S = 20.0


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GATEWAY_* variable leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_environ")
def test_missing_token_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_ID", "gw-test")
    monkeypatch.setenv("GATEWAY_SERVER_URL", "http://127.0.0.1:5000")
    assert main(["run"]) == 2
    assert "GATEWAY_TOKEN" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_environ")
def test_bad_backend_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text(
        "GATEWAY_ID=gw-test\nGATEWAY_TOKEN=t\nGATEWAY_SERVER_URL=http://127.0.0.1:5000\n"
        "GATEWAY_SCANNER_BACKEND=no_such_module_xyz:Backend\n"
    )
    assert main(["run", "--env-file", str(env_file)]) == 2
    assert "GATEWAY_SCANNER_BACKEND" in capsys.readouterr().err


def test_env_file_lines(tmp_path: Path) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text("# comment\n\nGATEWAY_ID = gw-a\nGATEWAY_TOKEN=\"a=b c\"\nEMPTY=\n")
    assert read_env_file(env_file) == {"GATEWAY_ID": "gw-a", "GATEWAY_TOKEN": "a=b c", "EMPTY": ""}


def test_env_file_errors_name_the_line(tmp_path: Path) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text("GATEWAY_ID=gw-a\nnot a setting\n")
    with pytest.raises(SettingsError, match=r"gateway.env:2: expected KEY=VALUE"):
        read_env_file(env_file)
    with pytest.raises(SettingsError, match="--env-file"):
        read_env_file(tmp_path / "missing.env")


def _read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def test_python_m_gateway_runs_until_sigterm(
    server: RecordingServer, gateway_env: dict[str, str], tmp_path: Path
) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in gateway_env.items()))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environ["GATEWAY_SCANNER_BACKEND"] = "test_gateway_scanner:FakeBackend"
    # The fake backend lives in a test module: make it importable by the child process.
    python_path = [str(TESTS_DIR), environ.get("PYTHONPATH", "")]
    environ["PYTHONPATH"] = os.pathsep.join(part for part in python_path if part)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--env-file", str(env_file)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=READY_TIMEOUT_S) == "gateway gw-test scanning\n"
        server.wait_until(lambda: len(server.observations()) == 3, "the EID observations")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=READY_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "event=stopped" in stderr
    assert "undecodable_dropped=2" in stderr
    assert "secret-token" not in stderr

"""The command line: settings errors exit 2; ``run`` and ``decode`` as real processes."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.cli import decode_lines, main, read_env_file
from gateway.settings import SettingsError

if TYPE_CHECKING:
    from conftest import RecordingServer

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parents[1]
VECTORS_FILE = TESTS_DIR.parent / "vectors" / "adverts.json"
READY_TIMEOUT_S = 20.0
DECODE_TIMEOUT_S = 30.0


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
def test_bad_backend_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text(
        "GATEWAY_ID=gw-test\nGATEWAY_TOKEN=t\nGATEWAY_SERVER_URL=http://127.0.0.1:5000\n"
        "GATEWAY_SCANNER_BACKEND=no_such_module_xyz:Backend\n"
    )
    assert main(["run", "--env-file", str(env_file)]) == 2
    assert "GATEWAY_SCANNER_BACKEND" in capsys.readouterr().err


def test_env_file_lines(tmp_path: Path) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text('# comment\n\nGATEWAY_ID = gw-a\nGATEWAY_TOKEN="a=b c"\nEMPTY=\n')
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
        server.wait_until(lambda: len(server.observations()) == 2, "the EID observations")
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


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
    return vectors


def _expected_output(vector: dict[str, Any]) -> dict[str, Any]:
    advert = vector["advert"]
    return {"address": advert["address"], "rssi": advert["rssi"], "frames": vector["frames"]}


def test_python_m_gateway_decode_reads_vectors_and_reports_a_bad_line() -> None:
    vectors = _vectors()
    lines = [json.dumps(v["advert"]) for v in vectors]
    bad_line_number = 3
    lines.insert(bad_line_number - 1, '{"address": "C0:00:00:00:00:99", "rssi": ')
    lines.insert(5, "   ")  # blank lines are skipped, but still counted
    process = subprocess.run(
        [sys.executable, "-m", "gateway", "decode"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=DECODE_TIMEOUT_S,
        check=False,
    )
    assert process.returncode == 1
    assert [json.loads(line) for line in process.stdout.splitlines()] == [
        _expected_output(v) for v in vectors
    ]
    (error,) = process.stderr.splitlines()
    assert error.startswith(f"beacon-gateway decode: line {bad_line_number}: not valid JSON")


def test_python_m_gateway_decode_exits_0_when_every_line_is_an_advert() -> None:
    vector = _vectors()[0]
    process = subprocess.run(
        [sys.executable, "-m", "gateway", "decode"],
        input=json.dumps(vector["advert"]) + "\n\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=DECODE_TIMEOUT_S,
        check=False,
    )
    assert (process.returncode, process.stderr) == (0, "")
    assert json.loads(process.stdout) == _expected_output(vector)


GOOD = {"address": "AA:BB", "rssi": -50, "manufacturer_data": {}, "service_data": {}}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(b"{bad", "not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
        pytest.param(b"[" * 100_000, "not valid JSON", id="nested-too-deep"),
        pytest.param(b"[1, 2]", "expected a JSON object, got list", id="array"),
        pytest.param(b'"advert"', "expected a JSON object, got str", id="string"),
        pytest.param({**GOOD, "address": 7}, '"address" must be a string', id="address-int"),
        pytest.param({"rssi": -50}, '"address" must be a string', id="address-missing"),
        pytest.param({**GOOD, "rssi": "-50"}, '"rssi" must be an integer', id="rssi-text"),
        pytest.param({**GOOD, "rssi": True}, '"rssi" must be an integer', id="rssi-bool"),
        pytest.param({**GOOD, "rssi": -50.5}, '"rssi" must be an integer', id="rssi-float"),
        pytest.param(
            {**GOOD, "manufacturer_data": []}, '"manufacturer_data" must be an object', id="list"
        ),
        pytest.param(
            {**GOOD, "service_data": {"u": "abc"}}, '"service_data"["u"] must be', id="odd-hex"
        ),
        pytest.param(
            {**GOOD, "service_data": {"u": "zz"}}, '"service_data"["u"] must be', id="not-hex"
        ),
        pytest.param(
            {**GOOD, "service_data": {"u": "02 15"}}, '"service_data"["u"] must be', id="hex-space"
        ),
        pytest.param(
            {**GOOD, "service_data": {"u": 215}}, '"service_data"["u"] must be', id="hex-int"
        ),
        pytest.param(
            {**GOOD, "manufacturer_data": {"0x4c": "02"}},
            "\"manufacturer_data\" key '0x4c'",
            id="company-hex",
        ),
        pytest.param(
            {**GOOD, "manufacturer_data": {"65536": "02"}},
            "\"manufacturer_data\" key '65536'",
            id="company-big",
        ),
        pytest.param(
            {**GOOD, "manufacturer_data": {"-1": "02"}},
            "\"manufacturer_data\" key '-1'",
            id="company-negative",
        ),
    ],
)
def test_decode_reports_each_bad_line_by_number_and_goes_on(
    line: bytes | dict[str, Any], reason: str
) -> None:
    bad = line if isinstance(line, bytes) else json.dumps(line).encode()
    good = json.dumps(GOOD).encode()
    out, err = io.StringIO(), io.StringIO()
    assert decode_lines([good, b"\n", bad, good], out, err) == 1
    assert err.getvalue().startswith(f"beacon-gateway decode: line 3: {reason}")
    assert err.getvalue().count("\n") == 1
    assert [json.loads(x) for x in out.getvalue().splitlines()] == [
        {"address": "AA:BB", "rssi": -50, "frames": []}
    ] * 2


def test_decode_treats_absent_data_fields_as_empty() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert decode_lines([b'{"address": "AA:BB", "rssi": -1}'], out, err) == 0
    assert (json.loads(out.getvalue()), err.getvalue()) == (
        {"address": "AA:BB", "rssi": -1, "frames": []},
        "",
    )

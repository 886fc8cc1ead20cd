"""The real ``python -m gateway run`` process: SIGTERM and ``kill -9`` lose nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.polling import wait_until

if TYPE_CHECKING:
    from conftest import RecordingServer

TESTS_DIR = Path(__file__).resolve().parent
EDDYSTONE = "0000feaa-0000-1000-8000-00805f9b34fb"
DEADLINE_S = 20.0
PHONES = 20


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _eid(n: int) -> str:
    return f"{n:016x}"


def _script(path: Path, adverts: list[tuple[str, int, str]]) -> Path:
    path.write_text(json.dumps([[a, rssi, {EDDYSTONE: "30ec" + eid}] for a, rssi, eid in adverts]))
    return path


def _environ(tmp_path: Path, server_url: str, script: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    python_path = [str(TESTS_DIR), environ.get("PYTHONPATH", "")]
    environ.update(
        PYTHONPATH=os.pathsep.join(part for part in python_path if part),
        FAKE_ADVERTS_FILE=str(script),
        GATEWAY_ID="gw-test",
        GATEWAY_TOKEN="secret-token",
        GATEWAY_SERVER_URL=server_url,
        GATEWAY_SCANNER_BACKEND="test_gateway_scanner:ScriptedBackend",
        GATEWAY_STATE_DIR=str(tmp_path / "state"),
        GATEWAY_METRICS_PORT="0",
        GATEWAY_SILENCE_RESTART_S="3600",  # the scripted backend goes quiet: never restart
        GATEWAY_HTTP_TIMEOUT_S="1",
        **extra,
    )
    return environ


@contextmanager
def _gateway(environ: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=DEADLINE_S)


def _stored(tmp_path: Path) -> list[tuple[str, str, list[dict[str, object]]]]:
    path = tmp_path / "state" / "outbox-gw-test.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=5) as db:
        try:
            rows = db.execute("SELECT batch_id, reason, observations FROM batches ORDER BY seq")
            return [(b, r, json.loads(o)) for b, r, o in rows.fetchall()]
        except sqlite3.OperationalError:  # the table is not created yet
            return []


def _poll(condition: Callable[[], object], what: str) -> None:
    assert wait_until(condition, DEADLINE_S, 0.02), f"timed out waiting for {what}"


def test_sigterm_flushes_the_open_batch_into_the_outbox(tmp_path: Path) -> None:
    # One phone, then the same phone 20 dB closer: a change report that waits in the open
    # batch (a one-hour interval) until SIGTERM closes it into the outbox.
    script = _script(
        tmp_path / "adverts.json",
        [("C0:00:00:00:00:01", -80, _eid(1)), ("C0:00:00:00:00:01", -60, _eid(1))],
    )
    environ = _environ(
        tmp_path,
        _closed_port_url(),
        script,
        GATEWAY_BATCH_INTERVAL_S="3600",
        GATEWAY_REPORT_MIN_INTERVAL_S="0.000001",
    )
    with _gateway(environ) as process:
        _poll(lambda: len(_stored(tmp_path)) == 1, "the first sighting in the outbox")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_S) == 0
    stored = _stored(tmp_path)
    assert [reason for _, reason, _ in stored] == ["first_heard", "shutdown"]
    assert [o["rssi"] for _, _, batch in stored for o in batch] == [-80, -60]


def test_kill_9_while_the_server_is_down_then_every_observation_arrives_once(
    tmp_path: Path, server: RecordingServer
) -> None:
    adverts = [(f"C0:00:00:00:01:{n:02x}", -60 - n, _eid(n)) for n in range(PHONES)]
    script = _script(tmp_path / "adverts.json", adverts)
    with _gateway(_environ(tmp_path, _closed_port_url(), script)) as process:
        _poll(
            lambda: sum(len(batch) for _, _, batch in _stored(tmp_path)) == PHONES,
            "every first sighting in the outbox",
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=DEADLINE_S)
    pending_ids = [batch_id for batch_id, _, _ in _stored(tmp_path)]

    quiet = _script(tmp_path / "quiet.json", [])
    with _gateway(_environ(tmp_path, server.url, quiet)) as process:
        server.wait_until(lambda: len(server.accepted_observations()) >= PHONES, "the backlog")
        server.wait_until(lambda: not _stored(tmp_path), "an empty outbox")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_S) == 0
    eids = [o["frame"]["eid"] for o in server.accepted_observations()]
    assert sorted(eids) == sorted(_eid(n) for n in range(PHONES))
    assert server.batch_ids()[: len(pending_ids)] == pending_ids  # same ids, oldest first

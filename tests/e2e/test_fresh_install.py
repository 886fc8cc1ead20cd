"""A fresh install as an operator does it: build the wheel, install it into a new venv outside
the checkout, set a store up with the commands, serve it behind nginx over HTTPS as
docs/deployment.md says (the documented site file, a generated certificate), and run a pickup
arrival through it: a shopper joins, the order system pushes her order, the door gateway posts
what it heard, and a tablet connected over wss:// sees the arrival.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.fanout import ARRIVAL_READINGS
from bench.stack import free_port
from store_server.presence.identity import eddystone_eid
from store_server.serving import listening_line
from tests.live import LiveClient
from tests.proxy import Certificate, nginx_in_front
from tests.support.polling import wait_until

# Building the wheel and installing it with its dependencies into a new venv takes minutes on
# a loaded machine, past the suite's 120 s default; pip's own timeouts still bound it.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="needs Debian's nginx package"),
]
REPO = Path(__file__).resolve().parents[2]
# What the checkout holds that a build must not see (venvs, caches, local state).
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "var", "dist", "build", "*.egg-info", "__pycache__", ".*cache"
)
PASSWORD = "manager-pass-1"


def run(args: list[str], cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(  # noqa: S603 - our own tools
        args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args[:3]}: {done.stderr[-2000:]}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the source (the checkout is left as it was)."""
    vendored = REPO / "store_server" / "web" / "vendor" / "socket.io.min.js"
    assert vendored.is_file(), "run `make setup` first: it copies the Socket.IO client"
    source = tmp_path_factory.mktemp("source") / "src"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    out = source.parent / "dist"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_")}
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), "."], source, env)
    [built] = out.glob("instore_engagement-*.whl")
    return built


def test_the_wheel_carries_everything_the_pages_need(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "store_server/web/vendor/socket.io.min.js",
        "store_server/web/static/icons/icon-192.png",
        "store_server/web/static/icons/icon-512.png",
        "store_server/web/static/console/main.js",
        "store_server/web/static/sw.js",
        "store_server/web/templates/app.html",
        "store_server/db/migrations/env.py",
        "store_server/db/migrations/versions/0001_initial_schema.py",
    ):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "Provides-Extra: cluster" in text


@pytest.fixture
def installed(wheel: Path, tmp_path: Path) -> Iterator[Path]:
    """A new venv outside the checkout with the wheel and the server's extra installed."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)  # noqa: S603
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "-c",
            str(REPO / "constraints.txt"),
            f"{wheel}[server]",
        ],
        tmp_path,
        env,
    )
    yield venv / "bin"


def arrival_batch(joined: dict[str, Any], now: float) -> dict[str, Any]:
    """What the door gateway posts as her phone walks in (bench/fanout.py's readings)."""
    key, exponent = bytes.fromhex(joined["identity_key"]), joined["rotation_exponent"]
    return {
        "batch_id": uuid.uuid4().hex,
        "sent_at": now,
        "observations": [
            {
                "seen_at": now - before_s,
                "rssi": rssi,
                "frame": {
                    "kind": "eddystone_eid",
                    "eid": eddystone_eid(key, exponent, int(now - before_s)).hex(),
                    "tx_power": -20,
                },
            }
            for before_s, rssi in ARRIVAL_READINGS
        ],
    }


def test_a_fresh_install_sets_up_a_store_and_serves_a_pickup_over_https(
    installed: Path, tmp_path: Path, certificate: Certificate
) -> None:
    workdir = tmp_path / "store"
    workdir.mkdir()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STORE_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    # One proxy in front: the server believes its X-Forwarded-* (docs/deployment.md).
    env.update(
        STORE_PORT=str(port), STORE_SECRET_KEY="fresh-install-secret", STORE_TRUSTED_PROXIES="1"
    )
    cli = str(installed / "store-server")
    run([cli, "migrate"], workdir, env)
    store_id = run(
        [
            cli,
            "create-store",
            "--name",
            "Corner Shop",
            "--timezone",
            "Europe/London",
            "--currency",
            "GBP",
        ],
        workdir,
        env,
    )
    run(
        [
            cli,
            "add-staff",
            "--store",
            store_id,
            "--email",
            "ria@corner.example",
            "--name",
            "Ria",
            "--role",
            "manager",
        ],
        workdir,
        env,
        stdin=PASSWORD + "\n",
    )
    gateway_token = run([cli, "add-gateway", "--store", store_id, "--id", "gw-door"], workdir, env)
    orders_token = run(
        [cli, "add-integration", "--store", store_id, "--name", "order system"], workdir, env
    )
    # Its files are in the working directory, never beside the installed code.
    assert (workdir / "var" / "store.db").is_file()
    assert not list(installed.parent.glob("lib/python*/site-packages/var"))

    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - the installed console script
            [cli, "run"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        direct = requests.Session()
        direct.trust_env = False

        def answers() -> bool:
            if listening_line("127.0.0.1", port) not in (tmp_path / "server.log").read_text():
                return server.poll() is not None  # until then, the port may be another's
            try:
                return direct.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
            except (requests.ConnectionError, requests.Timeout):  # still starting, or busy
                return server.poll() is not None

        assert wait_until(answers, 60) and server.poll() is None, (
            tmp_path / "server.log"
        ).read_text()
        with nginx_in_front(port, certificate, tmp_path / "nginx") as proxy:
            serve_a_pickup(proxy.https_url, proxy.ca, store_id, gateway_token, orders_token)
        assert (workdir / "var" / "vapid_private.pem").is_file()
    finally:
        server.terminate()
        server.wait(timeout=20)


def serve_a_pickup(url: str, ca: str, store_id: str, gateway_token: str, orders_token: str) -> None:
    """Through the proxy only: pages, the manager's set-up, a shopper, an order, an arrival."""
    http = requests.Session()
    http.trust_env = False
    http.verify = ca
    console = http.get(f"{url}/console", timeout=10)
    assert console.status_code == 200 and "Manager console" in console.text
    assert http.get(f"{url}/vendor/socket.io.min.js", timeout=10).status_code == 200
    assert http.get(f"{url}/static/icons/icon-192.png", timeout=10).status_code == 200
    login = http.post(
        f"{url}/api/v1/auth/login",
        json={"email": "ria@corner.example", "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    manager = {"Authorization": f"Bearer {login.json()['token']}"}
    store = f"{url}/api/v1/stores/{store_id}"
    settings = http.get(f"{store}/settings", headers=manager, timeout=10)
    assert settings.json()["name"] == "Corner Shop"
    door = http.post(
        f"{store}/zones",
        json={"name": "door", "kind": "entrance", "label": "front door"},
        headers=manager,
        timeout=10,
    )
    assert door.status_code == 201, door.text
    placed = http.put(
        f"{store}/gateways/gw-door",
        json={"zone_id": door.json()["id"], "rssi_offset_db": 0.0},
        headers=manager,
        timeout=10,
    )
    assert placed.status_code == 200, placed.text

    joined = http.post(
        f"{url}/api/v1/optin",
        json={
            "store_id": int(store_id),
            "first_name": "Pia",
            "consents": [{"purpose": "arrival", "channel": "app"}],
            "pickup_email": "pia@example.com",
        },
        timeout=10,
    )
    assert joined.status_code == 201, joined.text
    order = http.put(
        f"{store}/orders/pos-1",
        json={
            "number": "1001",
            "status": "ready",
            "items": [{"name": "Lamp"}],
            "customer_email": "pia@example.com",
        },
        headers={"Authorization": f"Bearer {orders_token}"},
        timeout=10,
    )
    assert order.status_code in (200, 201) and order.json()["matched_to_shopper"], order.text

    tablet = LiveClient(url, {"token": login.json()["token"]}, http_session=http)
    try:
        assert tablet.sio.transport() == "websocket"  # wss:// through nginx's upgrade
        batch = http.post(
            f"{url}/api/v1/gateways/gw-door/batches",
            json=arrival_batch(joined.json(), time.time()),
            headers={"Authorization": f"Bearer {gateway_token}"},
            timeout=10,
        )
        assert batch.status_code == 202, batch.text
        [arrival] = tablet.wait_for_arrival(20)
        assert (arrival["first_name"], arrival["order_number"]) == ("Pia", "1001")
        assert arrival["where"] == "front door"
    finally:
        tablet.close()

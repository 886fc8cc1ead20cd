"""A fresh install as an operator does it: build the wheel, install it into a new venv outside
the checkout, set a store up with the commands, serve it, and check a page and the API.

HTTPS in front (nginx) is docs/deployment.md's part; this test talks to the server directly.
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

import pytest
import requests

from bench.stack import free_port
from tests.support.polling import wait_until

# Building the wheel and installing it with its dependencies into a new venv takes minutes on
# a loaded machine, past the suite's 120 s default; pip's own timeouts still bound it.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
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


def test_a_fresh_install_sets_up_a_store_and_serves_it(installed: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "store"
    workdir.mkdir()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STORE_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(STORE_PORT=str(port), STORE_SECRET_KEY="fresh-install-secret")
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
    # Its files are in the working directory, never beside the installed code.
    assert (workdir / "var" / "store.db").is_file()
    assert not list(installed.parent.glob("lib/python*/site-packages/var"))

    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - the installed console script
            [cli, "run"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        http = requests.Session()
        http.trust_env = False

        def answers() -> bool:
            try:
                return http.get(f"{url}/healthz", timeout=5).status_code == 200
            except (requests.ConnectionError, requests.Timeout):  # still starting, or busy
                return server.poll() is not None

        assert wait_until(answers, 60) and server.poll() is None, (
            tmp_path / "server.log"
        ).read_text()
        console = http.get(f"{url}/console", timeout=10)
        assert console.status_code == 200 and "Manager console" in console.text
        assert http.get(f"{url}/vendor/socket.io.min.js", timeout=10).status_code == 200
        assert http.get(f"{url}/static/icons/icon-192.png", timeout=10).status_code == 200
        login = http.post(
            f"{url}/api/v1/auth/login",
            json={"email": "ria@corner.example", "password": PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200
        manager = {"Authorization": f"Bearer {login.json()['token']}"}
        settings = http.get(f"{url}/api/v1/stores/{store_id}/settings", headers=manager, timeout=10)
        assert settings.json()["name"] == "Corner Shop"
        batch = http.post(
            f"{url}/api/v1/gateways/gw-door/batches",
            json={"batch_id": uuid.uuid4().hex, "sent_at": time.time(), "observations": []},
            headers={"Authorization": f"Bearer {gateway_token}"},
            timeout=10,
        )
        assert batch.status_code == 202, batch.text
        assert (workdir / "var" / "vapid_private.pem").is_file()
    finally:
        server.terminate()
        server.wait(timeout=20)

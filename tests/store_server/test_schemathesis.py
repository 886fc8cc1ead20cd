"""schemathesis against the real server: every operation of the OpenAPI document, fuzzed.

The app serves on a free loopback port through Werkzeug's HTTP server (real requests, real
headers, the real database of the run: SQLite and PostgreSQL), and schemathesis' own command
line runs against it: it reads the document from the server, and every request carries the
credentials its operation's security scheme names (a manager's session, a shopper's device,
the order system's and a gateway's tokens), so the authenticated operations are exercised past
their 401. Its phases: the documents' examples, coverage (boundary values and every kind of
invalid input), fuzzing (positive and negative), stateful (the links between operations).
The run fails on any 5xx, any status the document does not list for the operation, any answer
not matching its schema or content type, a 405 without `Allow`.

Bounded for a 2-core machine: MAX_EXAMPLES per operation and phase, a fixed seed,
deterministic generation, no shrinking (a failure is printed with a curl command that
reproduces it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.store_server.conftest import World

MANAGER = "morgan@demo.store"
SEED = 20261207
MAX_EXAMPLES = 8
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


class QuietHandler(WSGIRequestHandler):
    """No access line per request: thousands of them would bury a failure."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""


@pytest.fixture
def served(world: World) -> Iterator[str]:
    """The world's app behind a real HTTP server on 127.0.0.1; yields its base URL."""
    server = make_server(
        "127.0.0.1", 0, world.app, threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def config_for(world: World) -> str:
    """schemathesis.toml of the run: its bounds, and a credential per security scheme."""
    tokens = {
        "staffSession": world.login(MANAGER)["token"],
        "shopperDevice": world.seed.device_tokens["maria"],
        "integrationToken": world.seed.integration_token,
        "gatewayToken": world.seed.gateway_tokens["gw-entrance"],
    }
    lines = [
        f"seed = {SEED}",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        "no-shrink = true",
        "database = 'none'",
        # The seeded store and one of its gateways: ids that reach the domain code (other
        # stores' are refused before it, tests/store_server/test_isolation.py).
        "[parameters]",
        f"store_id = {world.seed.store_id}",
        "gateway_id = 'gw-entrance'",
    ]
    for name, token in tokens.items():
        lines += [f"[auth.openapi.{name}]", f"bearer = {json.dumps(token)}"]
    return "\n".join(lines) + "\n"


def test_every_operation_answers_as_documented(
    world: World, served: str, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_for(world))
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{served}/api/v1/openapi.json",
            "--checks",
            "all",
            "--workers",
            "1",
            "--suppress-health-check",
            "all",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]

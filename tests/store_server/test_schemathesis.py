"""schemathesis against the real server: every operation of the OpenAPI document, fuzzed.

The app serves on a free loopback port through Werkzeug's HTTP server (real requests, real
headers, the real database of the run: SQLite and PostgreSQL), and schemathesis' own command
line runs against it: it reads the document from the server, and every request carries the
credentials its operation's security scheme names (a manager's session, a shopper's device,
the order system's and a gateway's tokens), so the authenticated operations are exercised past
their 401. Its phases here: fuzzing (positive and negative cases of every operation) and
stateful (sequences following the links between operations). The run fails on any 5xx, any
status the document does not list for the operation, any answer not matching its schema or
content type, a schema-violating request accepted, a 405 without `Allow` (CHECKS).

Bounded for a 2-core machine: MAX_EXAMPLES per operation and mode, a fixed seed,
deterministic generation, no shrinking (a failure is printed with a curl command that
reproduces it; the whole output is kept in the test's tmp_path as schemathesis.out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from store_server.accounts.staff import staff_by_email
from tests.store_server.conftest import World

MANAGER = "morgan@demo.store"
SEED = 20261207
MAX_EXAMPLES = 4
MAX_STATEFUL_STEPS = 10
# The coverage phase (every boundary value and kind of invalid input of every parameter, not
# bounded by MAX_EXAMPLES) takes minutes here: the suite runs the bounded phases, and
# `STORE_TEST_SCHEMATHESIS_PHASES=coverage,fuzzing,stateful pytest tests/store_server/
# test_schemathesis.py` the whole of it (before a change of the API document).
PHASES = os.environ.get("STORE_TEST_SCHEMATHESIS_PHASES", "fuzzing,stateful")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


class QuietHandler(WSGIRequestHandler):
    """No access line per request: thousands of them would bury a failure."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""


@pytest.fixture
def served(world: World) -> Iterator[str]:
    """The world's app behind a real HTTP server on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, world.app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# What the run checks: everything schemathesis offers but `positive_data_acceptance` (a
# request the schema allows can still break a rule no schema says: a known time zone, a valid
# signed link, a P-256 key; those are the documented 400) and `object_level_authorization`
# (tests/store_server/test_isolation.py covers other stores' and shoppers' data).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]


def toml_table(name: str, values: dict[str, object]) -> list[str]:
    """A TOML table of scalar values (JSON's strings and numbers are TOML's too)."""
    return [f"[{name}]", *(f"{key} = {json.dumps(value)}" for key, value in values.items())]


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
        # No state kept between runs (a crash replayed from a cache would make a run depend
        # on the one before).
        *toml_table("cache", {"enabled": False}),
        *toml_table(
            "generation",
            {"max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True},
        ),
        *toml_table("phases.stateful", {"max-steps": MAX_STATEFUL_STEPS}),
    ]
    for name, token in tokens.items():
        lines += toml_table(f"auth.openapi.{name}", {"bearer": token})
    # Erasure would end the shopper the other operations use: it erases Leo.
    lines += [
        "[[operations]]",
        'include-operation-id = "me.erase"',
        *toml_table(
            "operations.headers", {"Authorization": f"Bearer {world.seed.device_tokens['leo']}"}
        ),
    ]
    return "\n".join(lines) + "\n"


def aimed_at_the_seed(document: dict[str, Any], world: World) -> dict[str, Any]:
    """The document with the path ids that name the seeded store's rows narrowed to them.

    Random store ids and gateway ids only meet 403 and 404 (tests/store_server/
    test_isolation.py covers other stores); these reach the domain code. Sam stands for the
    staff account operations, which end the sessions of the account they change (not the
    manager's, which the other operations use). A negative case still draws other values.
    """
    with world.db.sessions() as session:
        sam = staff_by_email(session, "sam@demo.store").id
    seeded = {"store_id": world.seed.store_id, "gateway_id": "gw-entrance", "staff_id": sam}
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in seeded:
                    parameter["schema"] = {"enum": [seeded[parameter["name"]]]}
    return document


# pytest-timeout's 120 s is for one test; this one runs a whole API's worth on a shared machine.
@pytest.mark.timeout(600)
def test_every_operation_answers_as_documented(world: World, served: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_for(world))
    document = requests.get(f"{served}/api/v1/openapi.json", timeout=10).json()
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(aimed_at_the_seed(document, world)))
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            str(schema),
            "--url",
            served,
            "--phases",
            PHASES,
            "--checks",
            ",".join(CHECKS),
            "--workers",
            "1",
            "--suppress-health-check",
            "all",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
    # Every operation was run: a credential or filter gone wrong would skip them silently.
    operations = sum(len(methods) for methods in document["paths"].values())
    assert f"Tested: {operations}" in run.stdout, run.stdout[-3000:]

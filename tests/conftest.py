"""Suite-wide rules: in CI nothing may be skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

from tests.support.passwords import ProductionHashing, cheap_password_hashing

# The live stack (server, sim, gateways as processes) for the e2e and browser tests, and
# nginx in front of it.
pytest_plugins = ["tests.live", "tests.proxy"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first: the end-to-end tests, then the browser tests, then the rest.

    pytest-xdist hands out work in this order (`make test` passes `--no-loadscope-reorder`), so
    the tests that mostly wait out real time start while there is work to fill the other
    workers. A plain run in this order also keeps tests/browser/conftest.py's fix tested: the
    gateway and simulator tests (`asyncio.run`) run after Playwright has stopped.
    """
    items.sort(
        key=lambda item: (
            item.get_closest_marker("e2e") is None,
            item.get_closest_marker("browser") is None,
        )
    )


END_TO_END = "tests/e2e/"


class ModulesAndEndToEndTests(LoadFileScheduling):  # type: ignore[misc]  # xdist is untyped
    """pytest-xdist's `loadfile`, except that each end-to-end test is a work unit of its own.

    A worker runs a module whole, so module-scoped fixtures (a browser module's shared stack,
    the CLI tests' template database) are made once, as in a plain run. The end-to-end tests
    each start their own stack and mostly wait out real time (a server outage of a full
    minute, an adapter outage of 30 s), so they spread over the workers instead.
    """

    def _split_scope(self, nodeid: str) -> str:
        return nodeid if nodeid.startswith(END_TO_END) else nodeid.partition("::")[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` (`make test`) schedules with `ModulesAndEndToEndTests`."""
    if config.getvalue("dist") != "loadfile":
        return None
    return ModulesAndEndToEndTests(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a CI run that skipped anything: a skipped test is not a passing test."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if reporter is not None and os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) skipped; every test must run in CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def production_password_hashing() -> Iterator[ProductionHashing]:
    """Cheap argon2 parameters in every test of this process (tests/support/passwords.py);
    yields the production hasher it replaced."""
    with cheap_password_hashing() as production:
        yield production

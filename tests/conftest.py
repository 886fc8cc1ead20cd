"""Suite-wide rules: in CI nothing may be skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.passwords import ProductionHashing, cheap_password_hashing

# The live stack (server, sim, gateways as processes) for the e2e and browser tests, and
# nginx in front of it.
pytest_plugins = ["tests.live", "tests.proxy"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Playwright's sync API keeps an asyncio event loop running in the main thread from its
    first use until the session ends; any `asyncio.run` after that fails.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


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

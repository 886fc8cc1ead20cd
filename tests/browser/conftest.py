"""Browser fixtures: Playwright's `page` in Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the networking flags Chromium tries to reach Google's services, which this machine
# (and many store networks) refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium; `make test` installs it (apt-get install chromium)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="package")
def browser_context_args(
    pytestconfig: pytest.Config,
    playwright: Playwright,
    device: str | None,
    base_url: str | None,
    _pw_artifacts_folder: Any,
) -> dict[str, Any]:
    """pytest-playwright's context arguments (`--device`, `--base-url`, `--video`), on the
    package's Playwright (below), and a 10-inch tablet in landscape."""
    args: dict[str, Any] = {}
    if device:
        args.update(playwright.devices[device])
    if base_url:
        args["base_url"] = base_url
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        args["record_video_dir"] = _pw_artifacts_folder.name
    return {**args, "viewport": {"width": 1280, "height": 800}}


# pytest-playwright starts Playwright once per session. Its sync API keeps an asyncio event loop
# running in the thread until `stop()`, so every `asyncio.run` later in the same process fails
# ("cannot be called from a running event loop") and leaves its coroutine never awaited. Under
# pytest-xdist a worker may well run gateway or simulator tests after browser ones, so the
# fixtures that hold Playwright are scoped to this package instead: Playwright stops (and the
# loop with it) as soon as the worker leaves tests/browser, and starts again if it comes back.
@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Playwright]:
    """pytest-playwright's `playwright`, for the browser tests only."""
    started = sync_playwright().start()
    if _pw_api_request_contexts:  # --tracing: pytest-playwright records API requests too
        _pw_api_request_contexts.instrument(started)
    yield started
    started.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    """pytest-playwright's `browser_type`, on the package's Playwright."""
    chosen: BrowserType = getattr(playwright, browser_name)
    return chosen


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    """pytest-playwright's `launch_browser` (without `connect_options`: we launch Chromium)."""

    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    """One Chromium for the browser tests of a worker, closed when they are done."""
    launched = launch_browser()
    yield launched
    launched.close()

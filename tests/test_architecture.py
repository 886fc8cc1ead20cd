"""Dependency direction (docs/architecture.md), checked on every import statement of the tree.

firmware_sim never imports gateway or store_server; gateway imports neither of the others;
store_server imports neither gateway nor firmware_sim; only one module per package talks to
bleak; the virtual BlueZ's pure modules import neither dbus_fast nor asyncio. bench (and tests)
may import all three.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("firmware_sim", "gateway", "store_server")
FORBIDDEN = {
    "firmware_sim": {"gateway", "store_server"},
    "gateway": {"firmware_sim", "store_server"},
    "store_server": {"gateway", "firmware_sim"},
}
BLEAK_MODULES = {"gateway/scanner.py", "firmware_sim/bleak_backend.py"}
# The virtual BlueZ's pure half (firmware_sim/bluez/): no D-Bus library and no event loop.
PURE_BLUEZ_MODULES = (
    "firmware_sim/bluez/model.py",
    "firmware_sim/bluez/names.py",
    "firmware_sim/bluez/settings.py",
    "firmware_sim/bluez/introspection.py",
)
IMPURE = {"dbus_fast", "asyncio"}


def imported_top_levels(source: str) -> set[str]:
    """The top-level packages a module's source imports (absolute imports, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif (  # importlib.import_module("pkg...") with a literal name
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


def violations(package: str, relative: str, source: str) -> list[str]:
    """Every rule a module of `package` breaks."""
    imported = imported_top_levels(source)
    found = [f"{relative} imports {name}" for name in sorted(imported & FORBIDDEN[package])]
    if "bleak" in imported and relative not in BLEAK_MODULES:
        found.append(f"{relative} imports bleak (only {sorted(BLEAK_MODULES)} may)")
    return found


def modules() -> list[tuple[str, Path]]:
    return [
        (package, path) for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_every_package_has_modules() -> None:
    assert {package for package, _ in modules()} == set(PACKAGES)


@pytest.mark.parametrize(
    ("package", "path"), modules(), ids=lambda v: str(v).split("/work/main/")[-1]
)
def test_module_respects_dependency_direction(package: str, path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    assert violations(package, relative, path.read_text()) == []


@pytest.mark.parametrize(
    ("package", "relative", "source"),
    [
        ("gateway", "gateway/uplink.py", "from store_server.db.models import Visit"),
        ("gateway", "gateway/decode.py", "def f():\n    import firmware_sim.world\n"),
        ("firmware_sim", "firmware_sim/world.py", "import gateway.decode as d"),
        ("store_server", "store_server/app.py", "importlib.import_module('gateway.scanner')"),
        ("gateway", "gateway/service.py", "from bleak import BleakScanner"),
        ("firmware_sim", "firmware_sim/radio.py", "import bleak.backends.scanner"),
    ],
)
def test_checker_catches_a_forbidden_import(package: str, relative: str, source: str) -> None:
    assert violations(package, relative, source) != []


def test_checker_allows_the_scanner_modules_and_own_package() -> None:
    assert violations("gateway", "gateway/scanner.py", "import bleak\nimport gateway.decode") == []
    assert violations("firmware_sim", "firmware_sim/bleak_backend.py", "from bleak import x") == []


@pytest.mark.parametrize("relative", PURE_BLUEZ_MODULES)
def test_pure_bluez_module_imports_neither_dbus_fast_nor_asyncio(relative: str) -> None:
    assert imported_top_levels((ROOT / relative).read_text()) & IMPURE == set()


def test_pure_check_sees_dbus_fast_and_asyncio() -> None:
    source = "import asyncio\nfrom dbus_fast.aio import MessageBus\n"
    assert imported_top_levels(source) & IMPURE == IMPURE


# Inside the store server (docs/architecture.md, "Import rules"): only the web layer and the app
# factory speak HTTP and Socket.IO; the domain packages never import the web layer; the pure
# modules read no clock, no database and no web framework.
WEB_FRAMEWORKS = {"flask", "flask_socketio", "werkzeug"}
WEB_MODULES_ALLOWED = ("store_server/web/", "store_server/app.py")
PURE_SERVER_MODULES = (
    "store_server/presence/fusion.py",
    "store_server/presence/places.py",
    "store_server/engagement/decide.py",
    "store_server/reporting/analytics.py",
    "store_server/pickup/lifecycle.py",
    "store_server/vocabulary.py",
    "store_server/events.py",
)
IMPURE_FOR_PURE_SERVER = {"sqlalchemy", "time", "requests", "socket", *WEB_FRAMEWORKS}


def imported_modules(source: str) -> set[str]:
    """The full dotted names a module imports (absolute imports, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def layer_violations(relative: str, source: str) -> list[str]:
    """Every layering rule of the store server that a module breaks."""
    found: list[str] = []
    in_web = relative.startswith(WEB_MODULES_ALLOWED)
    imported = imported_modules(source)
    frameworks = sorted({name.split(".")[0] for name in imported} & WEB_FRAMEWORKS)
    if frameworks and not in_web:
        found.append(f"{relative} imports {frameworks} (only web/ and app.py may)")
    if not in_web and relative not in ("store_server/cli.py", "store_server/__main__.py"):
        web = sorted(
            n for n in imported if n == "store_server.web" or n.startswith("store_server.web.")
        )
        if web:
            found.append(f"{relative} imports the web layer {web}")
    if relative in PURE_SERVER_MODULES:
        impure = sorted({name.split(".")[0] for name in imported} & IMPURE_FOR_PURE_SERVER)
        impure += sorted(
            n for n in imported if n.startswith(("store_server.db", "store_server.web"))
        )
        if impure:
            found.append(f"{relative} is pure but imports {impure}")
    return found


def server_modules() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "store_server").rglob("*.py"))


@pytest.mark.parametrize("relative", server_modules())
def test_server_module_respects_its_layer(relative: str) -> None:
    assert layer_violations(relative, (ROOT / relative).read_text()) == []


def test_every_pure_server_module_exists() -> None:
    assert all((ROOT / relative).is_file() for relative in PURE_SERVER_MODULES)


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("store_server/pickup/alerts.py", "from flask import request"),
        ("store_server/presence/ingest.py", "from store_server.web.errors import ApiError"),
        ("store_server/engagement/engine.py", "from store_server import web"),
        ("store_server/presence/fusion.py", "import time"),
        ("store_server/engagement/decide.py", "from sqlalchemy import select"),
        ("store_server/reporting/analytics.py", "from store_server.db.models import Visit"),
    ],
)
def test_layer_checker_catches_a_breach(relative: str, source: str) -> None:
    assert layer_violations(relative, source) != []


def test_layer_checker_allows_the_web_layer_and_the_app() -> None:
    assert layer_violations("store_server/web/api/pickup.py", "from flask import request") == []
    assert layer_violations("store_server/app.py", "from store_server.web import pages") == []

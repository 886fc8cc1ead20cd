"""Docs that cannot drift: the README's settings tables list exactly the settings the code reads."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from gateway.settings import GatewaySettings
from store_server.settings import StoreSettings, markdown_table, variable

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def documented(prefix: str) -> set[str]:
    """Variables named in the first column of the README's tables."""
    return set(re.findall(rf"^\| `({prefix}[A-Z0-9_]+)` \|", README, flags=re.MULTILINE))


def test_store_settings_table_is_the_one_generated_from_the_settings_definitions() -> None:
    # Regenerate with `python -m store_server.settings` and paste it under "Store server".
    assert markdown_table() in README
    assert documented("STORE_") == {variable(name) for name in StoreSettings.model_fields}


def test_gateway_settings_table_matches_the_settings_object() -> None:
    # The field `gateway_id` is read from GATEWAY_ID.
    names = {f"GATEWAY_{f.name.upper().removeprefix('GATEWAY_')}" for f in fields(GatewaySettings)}
    assert documented("GATEWAY_") == names


def test_readme_shows_the_two_commands_first() -> None:
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_simulator_settings_table_matches_the_variables_the_simulator_reads() -> None:
    source = " ".join(p.read_text() for p in (ROOT / "firmware_sim").rglob("*.py"))
    assert documented("SIM_") == set(re.findall(r'"(SIM_[A-Z0-9_]+)"', source))

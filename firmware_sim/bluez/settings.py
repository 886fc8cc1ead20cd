"""How the virtual BlueZ behaves where real BlueZ versions differ: the frozen BluezSettings.

One switch per difference that matters to a scanner (re-signalled unchanged RSSI, the temporary
timeout after discovery, whether the experimental advertisement monitors are offered), read
from SIM_BLUEZ_* environment variables with BlueZ's defaults where unset, as the gateway and
store server read their own settings. No D-Bus and no asyncio.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from firmware_sim.bluez.names import DEFAULT_TEMPORARY_TIMEOUT_S


@dataclass(frozen=True)
class BluezSettings:
    """How the virtual BlueZ behaves where real BlueZ versions differ."""

    # Some BlueZ versions signal RSSI on every advert even when unchanged, others only changes.
    emit_unchanged_rssi: bool = False
    # Seconds after discovery ends before unpaired devices are removed (InterfacesRemoved).
    temporary_timeout_s: float = DEFAULT_TEMPORARY_TIMEOUT_S
    # Export AdvertisementMonitorManager1 (BlueZ started with --experimental): passive scans.
    passive_scanning: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BluezSettings:
        """Settings from SIM_BLUEZ_* environment variables, defaults where unset."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            emit_unchanged_rssi=_env_flag(
                env, "SIM_BLUEZ_EMIT_UNCHANGED_RSSI", default.emit_unchanged_rssi
            ),
            temporary_timeout_s=float(
                env.get("SIM_BLUEZ_TEMPORARY_TIMEOUT_S", default.temporary_timeout_s)
            ),
            passive_scanning=_env_flag(env, "SIM_BLUEZ_PASSIVE", default.passive_scanning),
        )


def _env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")

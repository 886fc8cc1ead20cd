"""The gateway's settings, read once from ``GATEWAY_``-prefixed environment variables.

The README's settings table documents every variable (a test keeps it in step with this file).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.errors import SettingsError

__all__ = ["GatewaySettings", "SettingsError"]

ENV_PREFIX = "GATEWAY_"

# Keeps the arrival latency (advert heard -> server knows) well under the 2 s goal while still
# grouping the adverts of a busy store into few requests.
DEFAULT_BATCH_INTERVAL_S = 0.5
# 500 observations is about 60 KiB of JSON: far below the server's 1 MiB body limit, and one
# SQLite transaction on the server per batch stays short.
DEFAULT_MAX_BATCH = 500
# The server's protocol limit (docs/protocol.md): more observations get a 413.
PROTOCOL_MAX_OBSERVATIONS = 5_000
# Long enough for a loaded store server on a LAN, short enough that a dead server is noticed
# and the batch retried within seconds.
DEFAULT_HTTP_TIMEOUT_S = 5.0

# The id goes into the URL path: keep it to characters that need no escaping.
_GATEWAY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_BACKEND_PATTERN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_ADAPTER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")

ScanningMode = Literal["active", "passive"]


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway needs to know, validated once at start-up."""

    gateway_id: str
    token: str
    server_url: str
    scanner_backend: str = ""
    adapter: str = ""
    scanning_mode: ScanningMode = "active"
    batch_interval_s: float = DEFAULT_BATCH_INTERVAL_S
    max_batch: int = DEFAULT_MAX_BATCH
    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S

    def __repr__(self) -> str:
        # The token is a secret: never let it reach a log line through repr().
        return (
            f"GatewaySettings(gateway_id={self.gateway_id!r}, token='***', "
            f"server_url={self.server_url!r}, scanner_backend={self.scanner_backend!r}, "
            f"adapter={self.adapter!r}, scanning_mode={self.scanning_mode!r}, "
            f"batch_interval_s={self.batch_interval_s!r}, max_batch={self.max_batch!r}, "
            f"http_timeout_s={self.http_timeout_s!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewaySettings:
        """Build settings from ``GATEWAY_*`` variables; raise SettingsError naming a bad one."""
        return cls(
            gateway_id=_matching(environ, "ID", _GATEWAY_ID_PATTERN, required=True),
            token=_required(environ, "TOKEN"),
            server_url=_server_url(environ),
            scanner_backend=_matching(environ, "SCANNER_BACKEND", _BACKEND_PATTERN),
            adapter=_matching(environ, "ADAPTER", _ADAPTER_PATTERN),
            scanning_mode=_scanning_mode(environ),
            batch_interval_s=_positive_float(environ, "BATCH_INTERVAL_S", DEFAULT_BATCH_INTERVAL_S),
            max_batch=_int_in_range(
                environ, "MAX_BATCH", DEFAULT_MAX_BATCH, 1, PROTOCOL_MAX_OBSERVATIONS
            ),
            http_timeout_s=_positive_float(environ, "HTTP_TIMEOUT_S", DEFAULT_HTTP_TIMEOUT_S),
        )


def _raw(environ: Mapping[str, str], name: str) -> str:
    return environ.get(ENV_PREFIX + name, "").strip()


def _required(environ: Mapping[str, str], name: str) -> str:
    value = _raw(environ, name)
    if not value:
        raise SettingsError(f"{ENV_PREFIX}{name} is required but not set")
    return value


def _matching(
    environ: Mapping[str, str], name: str, pattern: re.Pattern[str], *, required: bool = False
) -> str:
    value = _required(environ, name) if required else _raw(environ, name)
    if value and not pattern.fullmatch(value):
        raise SettingsError(f"{ENV_PREFIX}{name}={value!r} must match {pattern.pattern}")
    return value


def _server_url(environ: Mapping[str, str]) -> str:
    value = _required(environ, "SERVER_URL")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise SettingsError(
            f"{ENV_PREFIX}SERVER_URL={value!r} must be an http:// or https:// URL, "
            "e.g. http://127.0.0.1:5000"
        )
    return value.rstrip("/")


def _scanning_mode(environ: Mapping[str, str]) -> ScanningMode:
    value = _raw(environ, "SCANNING_MODE").lower() or "active"
    if value == "active":
        return "active"
    if value == "passive":
        return "passive"
    raise SettingsError(f"{ENV_PREFIX}SCANNING_MODE={value!r} must be 'active' or 'passive'")


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    text = _raw(environ, name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{ENV_PREFIX}{name}={text!r} must be a positive number of seconds")
    return value


def _int_in_range(
    environ: Mapping[str, str], name: str, default: int, low: int, high: int
) -> int:
    text = _raw(environ, name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingsError(f"{ENV_PREFIX}{name}={text!r} must be an integer from {low} to {high}")
    return value

"""The gateway's settings, read once from ``GATEWAY_``-prefixed environment variables.

The README's settings table documents every variable (a test keeps it in step with this file).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import gateway.tracking as tracking
from gateway.errors import SettingsError
from gateway.logs import LOG_FORMATS

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

# Beside the working directory, like the store server's var/; systemd's StateDirectory= and
# docs/beacon-gateway.service set /var/lib/beacon-gateway instead.
DEFAULT_STATE_DIR = "./var/gateway"
# About 150 bytes each on disk: at most ~150 MB, and at a busy store's ~200 reports per second
# more than an hour of server outage (a quiet store: days) before the oldest are dropped.
DEFAULT_OUTBOX_MAX_OBSERVATIONS = 1_000_000
# The server keeps the latest heartbeat; 30 s shows a dead gateway on the dashboard within a
# minute at one small request per interval (docs/protocol.md).
DEFAULT_HEARTBEAT_INTERVAL_S = 30.0
# A store's own registered beacons advertise every 0.1-1 s and phones several times a second,
# so 20 s without a single advert means the adapter or BlueZ went away (bleak says nothing),
# while a short lull never restarts a healthy scan.
DEFAULT_SILENCE_RESTART_S = 20.0
# bleak keeps every address it has seen until its scanner is started again, and phones rotate
# their addresses every ~15 minutes: a fresh scanner every hour bounds that table to an hour's
# worth of addresses, at the cost of a few milliseconds without scanning.
DEFAULT_SCANNER_REFRESH_S = 3600.0
# Keep running and retrying when no adapter is there at start (a USB dongle enumerating late,
# BlueZ still starting): the heartbeat reports "unavailable" instead of systemd restarting us.
DEFAULT_EXIT_IF_NO_ADAPTER = False
# The port registered for this exporter kind's neighbourhood (node_exporter is 9100); loopback
# only by default: the endpoint has no authentication.
DEFAULT_METRICS_PORT = 9108
DEFAULT_METRICS_HOST = "127.0.0.1"

# The id goes into the URL path: keep it to characters that need no escaping.
_GATEWAY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_BACKEND_PATTERN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_ADAPTER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
_HOST_PATTERN = re.compile(r"[A-Za-z0-9.:_-]{1,253}")
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# Sanity bounds of the tracking tunables: beyond them a value is a typo, not a choice.
MAX_RSSI_WINDOW = 100
MAX_PATH_LOSS_EXPONENT = 6.0
MIN_PATH_LOSS_EXPONENT = 1.0

ScanningMode = Literal["active", "passive"]


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway needs to know, validated once at start-up."""

    gateway_id: str
    token: str = field(repr=False)  # a secret: never in a log line through repr()
    server_url: str
    scanner_backend: str = ""
    adapter: str = ""
    scanning_mode: ScanningMode = "active"
    batch_interval_s: float = DEFAULT_BATCH_INTERVAL_S
    max_batch: int = DEFAULT_MAX_BATCH
    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S
    state_dir: str = DEFAULT_STATE_DIR
    outbox_max_observations: int = DEFAULT_OUTBOX_MAX_OBSERVATIONS
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    silence_restart_s: float = DEFAULT_SILENCE_RESTART_S
    scanner_refresh_s: float = DEFAULT_SCANNER_REFRESH_S
    exit_if_no_adapter: bool = DEFAULT_EXIT_IF_NO_ADAPTER
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_host: str = DEFAULT_METRICS_HOST
    rssi_window: int = tracking.RSSI_WINDOW
    rssi_window_s: float = tracking.RSSI_WINDOW_S
    report_change_db: float = tracking.REPORT_CHANGE_DB
    report_min_interval_s: float = tracking.REPORT_MIN_INTERVAL_S
    report_keepalive_s: float = tracking.REPORT_KEEPALIVE_S
    forget_after_s: float = tracking.FORGET_AFTER_S
    path_loss_exponent: float = tracking.PATH_LOSS_EXPONENT
    log_format: str = "logfmt"

    def tracking_params(self) -> tracking.TrackingParams:
        """The per-device tracking tunables as the pure tracker takes them."""
        return tracking.TrackingParams(
            window=self.rssi_window,
            window_s=self.rssi_window_s,
            change_db=self.report_change_db,
            min_interval_s=self.report_min_interval_s,
            keepalive_s=self.report_keepalive_s,
            forget_after_s=self.forget_after_s,
            path_loss_exponent=self.path_loss_exponent,
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
            state_dir=_raw(environ, "STATE_DIR") or DEFAULT_STATE_DIR,
            outbox_max_observations=_int_in_range(
                environ,
                "OUTBOX_MAX_OBSERVATIONS",
                DEFAULT_OUTBOX_MAX_OBSERVATIONS,
                PROTOCOL_MAX_OBSERVATIONS,
                1_000_000_000,
            ),
            heartbeat_interval_s=_positive_float(
                environ, "HEARTBEAT_INTERVAL_S", DEFAULT_HEARTBEAT_INTERVAL_S
            ),
            silence_restart_s=_positive_float(
                environ, "SILENCE_RESTART_S", DEFAULT_SILENCE_RESTART_S
            ),
            scanner_refresh_s=_positive_float(
                environ, "SCANNER_REFRESH_S", DEFAULT_SCANNER_REFRESH_S
            ),
            exit_if_no_adapter=_boolean(environ, "EXIT_IF_NO_ADAPTER", DEFAULT_EXIT_IF_NO_ADAPTER),
            metrics_port=_int_in_range(environ, "METRICS_PORT", DEFAULT_METRICS_PORT, 0, 65535),
            metrics_host=_matching(environ, "METRICS_HOST", _HOST_PATTERN) or DEFAULT_METRICS_HOST,
            rssi_window=_int_in_range(
                environ, "RSSI_WINDOW", tracking.RSSI_WINDOW, 1, MAX_RSSI_WINDOW
            ),
            rssi_window_s=_positive_float(environ, "RSSI_WINDOW_S", tracking.RSSI_WINDOW_S),
            report_change_db=_positive_float(
                environ, "REPORT_CHANGE_DB", tracking.REPORT_CHANGE_DB, unit="dB"
            ),
            report_min_interval_s=_positive_float(
                environ, "REPORT_MIN_INTERVAL_S", tracking.REPORT_MIN_INTERVAL_S
            ),
            report_keepalive_s=_positive_float(
                environ, "REPORT_KEEPALIVE_S", tracking.REPORT_KEEPALIVE_S
            ),
            forget_after_s=_positive_float(environ, "FORGET_AFTER_S", tracking.FORGET_AFTER_S),
            path_loss_exponent=_float_in_range(
                environ,
                "PATH_LOSS_EXPONENT",
                tracking.PATH_LOSS_EXPONENT,
                MIN_PATH_LOSS_EXPONENT,
                MAX_PATH_LOSS_EXPONENT,
            ),
            log_format=_log_format(environ),
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


def _log_format(environ: Mapping[str, str]) -> str:
    value = _raw(environ, "LOG_FORMAT").lower() or "logfmt"
    if value not in LOG_FORMATS:
        raise SettingsError(
            f"{ENV_PREFIX}LOG_FORMAT={value!r} must be one of {', '.join(LOG_FORMATS)}"
        )
    return value


def _positive_float(
    environ: Mapping[str, str], name: str, default: float, *, unit: str = "seconds"
) -> float:
    text = _raw(environ, name)
    if not text:
        return default
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{ENV_PREFIX}{name}={text!r} must be a positive number of {unit}")
    return value


def _float_in_range(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    text = _raw(environ, name)
    if not text:
        return default
    value = _float(text)
    if not low <= value <= high:  # NaN fails every comparison
        raise SettingsError(f"{ENV_PREFIX}{name}={text!r} must be a number from {low} to {high}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    text = _raw(environ, name).lower()
    if not text:
        return default
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise SettingsError(f"{ENV_PREFIX}{name}={text!r} must be true or false (1/0, yes/no)")


def _int_in_range(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
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

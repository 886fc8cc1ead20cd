"""The gateway's control plane: fetch and cache the server's config, send heartbeats.

``heartbeat_body`` and ``config_retry_delay`` are pure. ``ControlClient`` owns its own HTTP
client, so a slow heartbeat or config request never holds up a batch upload. Failures are logged
and counted, never raised: the gateway scans and uploads EIDs without either.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import httpx

from gateway import __version__
from gateway.counters import Counters
from gateway.logs import log_event
from gateway.registry import GatewayConfig
from gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

# Retry a failed config fetch this soon (or at refresh_s if that is sooner): a server that was
# down at our start is usually back within a minute, and registered beacons wait for it.
CONFIG_RETRY_S = 30.0


def heartbeat_body(
    *,
    sent_at: float,
    adapter_state: str,
    adverts_per_s: float,
    devices_tracked: int,
    outbox_depth: int,
    dropped: Mapping[str, int],
    last_advert_at: float | None,
    scanner_restarts: int,
    uploads_held_since: float | None = None,
    upload_held_status: int | None = None,
) -> dict[str, object]:
    """The heartbeat body exactly as docs/protocol.md shows it."""
    return {
        "sent_at": sent_at,
        "version": __version__,
        "adapter_state": adapter_state,
        "adverts_per_s": round(max(adverts_per_s, 0.0), 1),
        "devices_tracked": devices_tracked,
        "outbox_depth": outbox_depth,
        "dropped": dict(dropped),
        "last_advert_at": last_advert_at,
        "scanner_restarts": scanner_restarts,
        "uploads_held_since": uploads_held_since,
        "upload_held_status": upload_held_status,
    }


def config_retry_delay(refresh_s: float) -> float:
    """Seconds before the next fetch after a failed one."""
    return min(refresh_s, CONFIG_RETRY_S)


class ConfigCache:
    """The last good config on disk, beside the outbox, for a start without the server."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> GatewayConfig | None:
        """The cached config, or None if there is none or it is unreadable."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return GatewayConfig.parse(document)

    def save(self, config: GatewayConfig) -> None:
        """Replace the cached config atomically (write a temporary file, then rename)."""
        partial = self.path.with_suffix(".tmp")
        try:
            partial.write_text(config.to_json(), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as exc:
            log_event(logger, logging.WARNING, "config_cache_failed", error=type(exc).__name__)


class ControlClient:
    """GET the config and POST heartbeats for one gateway."""

    def __init__(
        self,
        settings: GatewaySettings,
        counters: Counters,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._counters = counters
        base = f"/api/v1/gateways/{settings.gateway_id}"
        self._config_path = f"{base}/config"
        self._heartbeat_path = f"{base}/heartbeat"
        self._client = httpx.AsyncClient(
            base_url=settings.server_url,
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=settings.http_timeout_s,
            transport=transport,
        )

    async def fetch_config(self) -> GatewayConfig | None:
        """The server's current config; None (logged, counted) if it cannot be had."""
        try:
            response = await self._client.get(self._config_path)
        except httpx.HTTPError as exc:
            self._config_failed(error=type(exc).__name__)
            return None
        if response.status_code != 200:
            self._config_failed(status=response.status_code)
            return None
        try:
            config = GatewayConfig.parse(response.json())
        except ValueError:
            config = None
        if config is None:
            self._config_failed(status=response.status_code, error="malformed")
            return None
        self._counters.config_refreshes += 1
        return config

    async def send_heartbeat(self, body: Mapping[str, object]) -> bool:
        """POST one heartbeat; True if the server took it (202)."""
        try:
            response = await self._client.post(self._heartbeat_path, json=dict(body))
        except httpx.HTTPError as exc:
            return self._heartbeat_failed(error=type(exc).__name__)
        if response.status_code != 202:
            return self._heartbeat_failed(status=response.status_code)
        self._counters.heartbeats_sent += 1
        return True

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    def _config_failed(self, *, status: int | None = None, error: str | None = None) -> None:
        self._counters.config_failures += 1
        log_event(logger, logging.WARNING, "config_fetch_failed", status=status, error=error)

    def _heartbeat_failed(self, *, status: int | None = None, error: str | None = None) -> bool:
        self._counters.heartbeats_failed += 1
        log_event(logger, logging.WARNING, "heartbeat_failed", status=status, error=error)
        return False

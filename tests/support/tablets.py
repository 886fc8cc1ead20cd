"""A staff tablet as the page behaves: a python-socketio client that reconnects by itself and,
on every (re)connect, fetches the open arrivals (staff.js `catchUp`), so what happened while it
was away is seen on reconnect. The fault tests watch it through server restarts and outages."""

from __future__ import annotations

import threading
from typing import Any

import requests
import socketio


class CatchingUpTablet:
    """Sees alerts live (`arrival`, `alert_updated`) and by catching up on each connect."""

    def __init__(self, url: str, token: str, store_id: int) -> None:
        self.url, self.token, self.store_id = url, token, store_id
        self._lock = threading.Lock()
        self.live: list[dict[str, Any]] = []  # arrival events, in order
        self.updates: list[dict[str, Any]] = []  # alert_updated events, in order
        self.caught_up: set[int] = set()  # alert ids the catch-up fetches listed
        self.connects = 0
        self.catch_ups = 0  # catch-up fetches finished (answered or failed)
        self.sio = socketio.Client(
            reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("arrival", lambda payload: self._record(self.live, payload))
        self.sio.on("alert_updated", lambda payload: self._record(self.updates, payload))
        self.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _record(self, into: list[dict[str, Any]], payload: dict[str, Any]) -> None:
        with self._lock:
            into.append(payload)

    def _on_connect(self) -> None:
        with self._lock:
            self.connects += 1
        # In a thread of its own: the client's event thread must stay free for the events.
        threading.Thread(target=self.catch_up, daemon=True).start()

    def catch_up(self) -> None:
        """Fetch the open arrivals, as the page does on (re)connect; failures are retried by
        the next connect, as on the page."""
        try:
            response = requests.get(
                f"{self.url}/api/v1/stores/{self.store_id}/arrivals",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=10,
            )
        except requests.RequestException:
            response = None
        with self._lock:
            if response is not None and response.status_code == 200:
                self.caught_up |= {a["alert_id"] for a in response.json()["arrivals"]}
            self.catch_ups += 1

    def live_ids(self) -> list[int]:
        """The alert id of every live arrival event, in order (twice if sent twice)."""
        with self._lock:
            return [event["alert_id"] for event in self.live]

    def seen(self) -> set[int]:
        """Every alert id seen, live or by catching up."""
        with self._lock:
            return set(self.caught_up) | {event["alert_id"] for event in self.live}

    def close(self) -> None:
        """Disconnect for good."""
        self.sio.disconnect()

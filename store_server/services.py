"""The service container: everything a request or a scheduled job needs, built once by
`create_app` and reached in the web layer through `web.context.services()`.

Domain functions never reach for it: the web layer (or the sweep) passes each the services it
needs, so a domain function's arguments say what it depends on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from store_server.events import Event

if TYPE_CHECKING:  # the container only names its parts; importing them here would be a cycle
    from store_server.db.database import Database
    from store_server.messaging.outbound import Outbound
    from store_server.presence.identity import EidResolver
    from store_server.presence.visits import FusionStates
    from store_server.settings import StoreSettings

# The wall clock: every "now" of the server comes from the container's clock, so a test sets it
# once (a callable returning UNIX seconds) instead of patching one alias per module.
Clock = Callable[[], float]
WALL_CLOCK: Clock = time.time


class Publisher(Protocol):
    """Sends events to their audiences after the transaction that made them committed."""

    def publish(self, events: Sequence[Event]) -> None:
        """Queue events; returns at once (the fan-out runs elsewhere)."""

    def stop(self) -> None:
        """Finish sending and stop."""


@dataclass(frozen=True)
class Services:
    """The store server's long-lived parts, one of each per app."""

    settings: StoreSettings
    db: Database
    clock: Clock
    resolver: EidResolver
    fusion_states: FusionStates
    outbound: Outbound
    publisher: Publisher

"""The one accessor for the app's service container inside a request or an app context."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, current_app

from store_server.events import Event
from store_server.services import Services

EXTENSION = "store_services"


def services(app: Flask | None = None) -> Services:
    """The container `create_app` built for this app (the current app by default)."""
    found: Services = (app or current_app).extensions[EXTENSION]
    return found


def publish(events: Sequence[Event]) -> None:
    """Queue events for the background emitter (never emit inside a request)."""
    services().publisher.publish(events)

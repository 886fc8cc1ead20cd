"""`/metrics`: the server's Prometheus metrics (store_server/metrics.py).

Not under `/api/v1` and not authenticated: it names gateways and counts, nothing personal, and
the nginx configuration of docs/deployment.md does not proxy it, so only hosts that reach the
server's own port (the Prometheus next to it) can scrape it.
"""

from __future__ import annotations

from flask import Blueprint, Response

from store_server.metrics import exposition
from store_server.web.context import services

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Every series, in Prometheus's text format."""
    found = services()
    body, content_type = exposition(found.db, found.clock())
    return Response(body, status=200, content_type=content_type)

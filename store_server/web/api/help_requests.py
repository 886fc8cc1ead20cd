"""Help on the floor as staff tablets drive it: open requests, acknowledge, close.

The shopper's half (asking, and her open requests) is under `/api/v1/me/help-requests`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from store_server.assistance import help_requests
from store_server.assistance.views import HelpRequestOut
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.openapi import documented
from store_server.web.schemas.help_requests import HelpRequestsOut

bp = Blueprint("help_requests", __name__, url_prefix="/api/v1/stores")


@bp.get("/<int:store_id>/help-requests")
@documented("Open help requests of a store", answer=HelpRequestsOut, errors=(401, 403))
def list_help_requests(store_id: int) -> tuple[Response, int]:
    """The store's open help requests, oldest first (a tablet loads and re-syncs with this)."""
    authorise(store_id)
    with services().db.sessions() as session:
        out = HelpRequestsOut(help_requests=help_requests.open_requests(session, store_id))
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/help-requests/<int:request_id>/acknowledge")
@documented(
    "A staffer is on the way to a shopper who asked for help (first wins; 409 names who did)",
    answer=HelpRequestOut,
    errors=(401, 403, 404, 409),
)
def acknowledge(store_id: int, request_id: int) -> tuple[Response, int]:
    """ "On my way": the first staffer wins; the shopper is told who is coming."""
    staff = authorise(store_id)
    now = services().clock()
    with services().db.transaction() as session:
        change = help_requests.acknowledge(session, store_id, request_id, staff.staff_id, now)
    services().publisher.publish(change.events)
    return jsonify(change.request.model_dump()), 200


@bp.post("/<int:store_id>/help-requests/<int:request_id>/close")
@documented(
    "The shopper was helped: close the request (she is asked the one-question survey)",
    answer=HelpRequestOut,
    errors=(401, 403, 404, 409),
)
def close(store_id: int, request_id: int) -> tuple[Response, int]:
    """She was helped: close the request; her page asks the one-question survey."""
    staff = authorise(store_id)
    now = services().clock()
    with services().db.transaction() as session:
        change = help_requests.close(session, store_id, request_id, staff.staff_id, now)
    services().publisher.publish(change.events)
    return jsonify(change.request.model_dump()), 200

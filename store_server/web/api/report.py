"""The manager's report of a store."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from store_server.reporting.report import store_report
from store_server.vocabulary import StaffRole
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.openapi import documented
from store_server.web.schemas import JsonObjectOut

bp = Blueprint("reports", __name__, url_prefix="/api/v1/stores")


@bp.get("/<int:store_id>/report")
@documented(
    "Managers: campaigns (funnel, lift), pickups, care score, beacon and gateway health",
    answer=JsonObjectOut,
    errors=(401, 403),
)
def report(store_id: int) -> tuple[Response, int]:
    """What happened in this store: aggregates only, no shopper is named."""
    authorise(store_id, StaffRole.MANAGER)
    with services().db.sessions() as session:
        out = store_report(session, store_id)
    return jsonify(out), 200

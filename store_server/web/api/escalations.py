"""Escalations to managers: the channel each manager chose, and "I'll take it" from a link."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify, request

from store_server.accounts import staff as accounts
from store_server.pickup import escalations
from store_server.vocabulary import Channel, StaffRole
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.escalations import (
    EscalationChannelIn,
    EscalationChannelOut,
    PushSubscriptionIn,
    TakeIn,
    TakenOut,
)

bp = Blueprint("escalations", __name__, url_prefix="/api/v1")


@bp.get("/stores/<int:store_id>/escalation-channel")
@documented(
    "How this manager hears of escalations away from the console",
    answer=EscalationChannelOut,
    errors=(401, 403),
)
def get_channel(store_id: int) -> tuple[Response, int]:
    """The logged-in manager's channel for escalations."""
    manager = authorise(store_id, StaffRole.MANAGER)
    with services().db.sessions() as session:
        choice = accounts.escalation_channel(session, manager.staff_id)
    return jsonify(asdict(choice)), 200


@bp.put("/stores/<int:store_id>/escalation-channel")
@documented(
    "Choose push, SMS (with a phone number) or e-mail for escalations, or the console only",
    body=EscalationChannelIn,
    answer=EscalationChannelOut,
    errors=(400, 401, 403),
)
def set_channel(store_id: int) -> tuple[Response, int]:
    """Set the logged-in manager's channel for escalations (per account)."""
    manager = authorise(store_id, StaffRole.MANAGER)
    body = parse_body(EscalationChannelIn, request.get_json(silent=True))
    channel = Channel(body.channel) if body.channel else None
    with services().db.transaction() as session:
        choice = accounts.set_escalation_channel(session, manager.staff_id, channel, body.phone)
    return jsonify(asdict(choice)), 200


@bp.post("/stores/<int:store_id>/escalation-channel/push-subscriptions")
@documented(
    "Keep this browser's Web Push subscription for the manager's escalations",
    body=PushSubscriptionIn,
    answer=EscalationChannelOut,
    errors=(400, 401, 403),
)
def subscribe_push(store_id: int) -> tuple[Response, int]:
    """Subscribe the console's browser to escalations by push."""
    manager = authorise(store_id, StaffRole.MANAGER)
    body = parse_body(PushSubscriptionIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        accounts.subscribe_staff_push(
            session, manager.staff_id, body.endpoint, body.keys.p256dh, body.keys.auth, now
        )
        choice = accounts.escalation_channel(session, manager.staff_id)
    return jsonify(asdict(choice)), 200


@bp.post("/escalations/take")
@documented(
    "I'll take it: a manager acknowledges an escalated pickup alert or help request from the "
    "link in their message",
    body=TakeIn,
    answer=TakenOut,
    errors=(400, 403, 404, 409, 410),
    public=True,
)
def take() -> tuple[Response, int]:
    """The signed, expiring token of the link is the credential; the first to act wins."""
    body = parse_body(TakeIn, request.get_json(silent=True))
    now = services().clock()
    secret = services().settings.secret_key.encode()
    with services().db.transaction() as session:
        taken = escalations.take(session, secret, body.token, now)
    services().outbound.submit_all(taken.jobs)
    services().publisher.publish(taken.events)
    return jsonify({**taken.answer, "kind": str(taken.kind)}), 200

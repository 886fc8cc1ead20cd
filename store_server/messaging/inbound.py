"""What shoppers send back: texted STOP/START/HELP, e-mail unsubscribes, and "seen" reports.

- `POST /api/v1/sms/inbound`: the SMS provider's webhook (Twilio's form fields, signed with
  `X-Twilio-Signature` over the public URL). STOP revokes every SMS consent of the shoppers
  with that number and remembers what it revoked; START restores exactly that; HELP only
  answers. The answer is TwiML, which the provider texts back.
- `GET /u/<token>` shows a confirmation page (mail scanners follow links: a GET changes
  nothing); `POST /u/<token>` unsubscribes from every e-mail, either from that page or as the
  RFC 8058 one-click POST a mailbox provider sends.
- `POST /api/v1/messages/<id>/seen`: the shopper page or its service worker showed the message.
  No login: the 128-bit message id is the capability, and it only sets a timestamp once.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import Consent, Shopper, Store
from store_server.messaging.channels.email import ONE_CLICK, TOKEN_PATTERN
from store_server.messaging.channels.sms import (
    ConsentChange,
    parse_inbound,
    twiml_reply,
    valid_signature,
)
from store_server.messaging.outbound import mark_seen
from store_server.settings import StoreSettings
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented

bp = Blueprint("inbound", __name__)
log = logging.getLogger(__name__)
SMS_WEBHOOK_PATH = "/api/v1/sms/inbound"
TWIML = "text/xml; charset=utf-8"
MESSAGE_ID_LENGTH = 32


def apply_sms_change(session: Session, change: ConsentChange, now: float) -> int:
    """Apply a texted keyword to every shopper with that number; returns how many."""
    shoppers = session.scalars(select(Shopper).where(Shopper.phone == change.phone)).all()
    for shopper in shoppers:
        if change.action == "opt_out":
            revoked = session.execute(
                select(Consent.store_id, Consent.purpose).where(
                    Consent.shopper_id == shopper.id, Consent.channel == "sms"
                )
            ).all()
            session.execute(
                delete(Consent).where(Consent.shopper_id == shopper.id, Consent.channel == "sms")
            )
            if revoked:  # a second STOP must not forget what the first revoked
                shopper.sms_stopped = [[store_id, purpose] for store_id, purpose in revoked]
        elif change.action == "opt_in" and shopper.sms_stopped:
            for store_id, purpose in shopper.sms_stopped:
                exists = session.scalar(
                    select(Consent.id).where(
                        Consent.shopper_id == shopper.id,
                        Consent.store_id == store_id,
                        Consent.purpose == purpose,
                        Consent.channel == "sms",
                    )
                )
                if exists is None and session.get(Store, store_id) is not None:
                    session.add(
                        Consent(
                            shopper_id=shopper.id,
                            store_id=store_id,
                            purpose=purpose,
                            channel="sms",
                            granted_at=now,
                        )
                    )
            shopper.sms_stopped = None
    return len(shoppers)


def _program_name(session: Session) -> str:
    names = session.scalars(select(Store.name).order_by(Store.id).limit(2)).all()
    return names[0] if len(names) == 1 else "Store updates"


@bp.post(SMS_WEBHOOK_PATH)
@documented(
    "The SMS provider's inbound webhook: STOP/START/HELP (form fields, X-Twilio-Signature); "
    "answers TwiML",
    errors=(403, 404),
    public=True,
)
def sms_inbound() -> Response:
    """The SMS provider's inbound webhook: consent keywords, answered in TwiML."""
    settings: StoreSettings = services().settings
    if not settings.sms_base_url or not settings.sms_auth_token:
        raise ApiError(404, "sms_not_configured", "this server sends no text messages")
    form = request.form
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings.base_url + SMS_WEBHOOK_PATH
    if not signature or not valid_signature(
        settings.sms_auth_token, url, form.items(multi=True), signature
    ):
        raise ApiError(403, "bad_signature", "the request is not signed by the SMS provider")
    now = services().clock()
    with services().db.transaction() as session:
        change = parse_inbound(
            form.to_dict(), _program_name(session), settings.sms_help_contact or settings.base_url
        )
        if change is None:
            return Response(
                '<?xml version="1.0" encoding="UTF-8"?><Response/>', 200, mimetype=TWIML
            )
        matched = apply_sms_change(session, change, now)
    log.info("event=sms_keyword action=%s shoppers=%d", change.action, matched)
    return Response(twiml_reply(change.reply), 200, mimetype=TWIML)


def _shopper_by_token(session: Session, token: str) -> Shopper:
    shopper = None
    if TOKEN_PATTERN.fullmatch(token):
        shopper = session.scalars(select(Shopper).where(Shopper.unsubscribe_token == token)).first()
    if shopper is None:
        raise ApiError(404, "unknown_token", "this unsubscribe link is not valid (any more)")
    return shopper


@bp.get("/u/<token>")
def unsubscribe_page(token: str) -> str:
    """A page with one button: unsubscribe from e-mails (the GET itself changes nothing)."""
    with services().db.sessions() as session:
        _shopper_by_token(session, token)
    return render_template("unsubscribe.html", token=token, done=False)


@bp.post("/u/<token>")
def unsubscribe(token: str) -> str:
    """Withdraw every e-mail consent of the link's shopper (RFC 8058 one-click or the page)."""
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK.split("=", 1)[1]
    with services().db.transaction() as session:
        shopper = _shopper_by_token(session, token)
        revoked = rows_changed(
            session.execute(
                delete(Consent).where(Consent.shopper_id == shopper.id, Consent.channel == "email")
            )
        )
    log.info("event=email_unsubscribed one_click=%s consents=%d", one_click, revoked)
    return render_template("unsubscribe.html", token=token, done=True)


@bp.post("/api/v1/messages/<message_id>/seen")
@documented(
    "Record that a message was shown (no login: the random message id is the capability)",
    errors=(404,),
    public=True,
)
def message_seen(message_id: str) -> tuple[Response, int]:
    """Record that a message was shown to its shopper (the first report counts)."""
    known = False
    if len(message_id) == MESSAGE_ID_LENGTH and all(c in "0123456789abcdef" for c in message_id):
        with services().db.transaction() as session:
            known = mark_seen(session, message_id, services().clock())
    if not known:
        raise ApiError(404, "unknown_message", "no such message")
    body: dict[str, Any] = {"seen": True}
    return jsonify(body), 200

"""What shoppers send back, over the web: provider webhooks, unsubscribe links, "seen" reports.

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

from store_server.messaging.channels.email import ONE_CLICK
from store_server.messaging.channels.sms import parse_inbound, twiml_reply, valid_signature
from store_server.messaging.inbound import (
    apply_sms_change,
    program_name,
    shopper_by_token,
    unsubscribe_email,
)
from store_server.messaging.outbound import mark_seen
from store_server.settings import StoreSettings
from store_server.shoppers.consents import has_any_consent
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.realtime import end_shopper_connections
from store_server.web.schemas.public import MessageSeenOut

bp = Blueprint("inbound", __name__)
# The log lines keep the logger name they always had.
log = logging.getLogger("store_server.messaging.inbound")
SMS_WEBHOOK_PATH = "/api/v1/sms/inbound"
TWIML = "text/xml; charset=utf-8"
MESSAGE_ID_LENGTH = 32


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
            form.to_dict(), program_name(session), settings.sms_help_contact or settings.base_url
        )
        if change is None:
            return Response(
                '<?xml version="1.0" encoding="UTF-8"?><Response/>', 200, mimetype=TWIML
            )
        matched = apply_sms_change(session, change, now)
        opted_out = [i for i in matched if not has_any_consent(session, i)]
    for shopper_id in opted_out:  # nothing left to be sent: her pages go, on every process
        end_shopper_connections(shopper_id)
    log.info("event=sms_keyword action=%s shoppers=%d", change.action, len(matched))
    return Response(twiml_reply(change.reply), 200, mimetype=TWIML)


@bp.get("/u/<token>")
def unsubscribe_page(token: str) -> str:
    """A page with one button: unsubscribe from e-mails (the GET itself changes nothing)."""
    with services().db.sessions() as session:
        shopper_by_token(session, token)
    return render_template("unsubscribe.html", token=token, done=False)


@bp.post("/u/<token>")
def unsubscribe(token: str) -> str:
    """Withdraw every e-mail consent of the link's shopper (RFC 8058 one-click or the page)."""
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK.split("=", 1)[1]
    with services().db.transaction() as session:
        shopper_id, revoked = unsubscribe_email(session, token)
        opted_out = not has_any_consent(session, shopper_id)
    if opted_out:
        end_shopper_connections(shopper_id)
    log.info("event=email_unsubscribed one_click=%s consents=%d", one_click, revoked)
    return render_template("unsubscribe.html", token=token, done=True)


@bp.post("/api/v1/messages/<message_id>/seen")
@documented(
    "Record that a message was shown (no login: the random message id is the capability)",
    answer=MessageSeenOut,
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

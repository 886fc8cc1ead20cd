"""SMS through a provider speaking the Twilio Messages API, and the inbound keyword webhook.

Sending: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with form fields `To`,
`From`, `Body` and HTTP basic auth (AccountSid, AuthToken); 201 with JSON `sid` and `status`.
Inbound: STOP/START/HELP and their synonyms become a `ConsentChange` (pure); the provider's
`X-Twilio-Signature` is checked before anything is applied.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

import requests

from store_server.messaging.channels import Contact, Notification, SendResult
from store_server.vocabulary import Channel

API_VERSION_PATH = "2010-04-01"
# Twilio's limit on a message body (it splits into segments up to this length).
MAX_BODY_CHARS = 1600
# CTIA Messaging Principles and Best Practices (5.1.2): tell recipients how to opt out; on
# every offer, since any text may be the one read.
OPT_OUT_FOOTER = "Reply STOP to opt out."
DEFAULT_TIMEOUT_S = 10.0
# Keywords of the CTIA guidelines and Twilio's default opt-out handling, whole message only,
# any case. The shell applies the change to every SMS consent of the sender's number. REVOKE
# and OPT OUT are among the words the FCC's 2024 TCPA revocation order (FCC 24-24) names as
# always a valid revocation.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# Twilio's Advanced Opt-Out adds `OptOutType` when a (possibly custom) keyword matched.
OPT_OUT_TYPES: dict[str, Literal["opt_out", "opt_in", "help"]] = {
    "STOP": "opt_out",
    "START": "opt_in",
    "HELP": "help",
}


@dataclass(frozen=True)
class SmsConfig:
    """The provider account; `base_url` is e.g. https://api.twilio.com or a compatible one."""

    base_url: str
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def messages_url(self) -> str:
        """The Messages resource of the account."""
        return (
            f"{self.base_url.rstrip('/')}/{API_VERSION_PATH}/Accounts/"
            f"{self.account_sid}/Messages.json"
        )


def sms_text(notification: Notification) -> str:
    """The text of an SMS: title, body, link, the way to a person and the opt-out line, within
    the length limit (only the body is shortened)."""
    person = notification.person.line()
    tail = (
        (f" {notification.url}" if notification.url else "")
        + (f" {person}" if person else "")
        + f" {OPT_OUT_FOOTER}"
    )
    text = f"{notification.title}: {notification.body}"
    room = MAX_BODY_CHARS - len(tail)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return text + tail


class SmsSender:
    """Sends through the provider's Messages API."""

    channel: Channel = Channel.SMS

    def __init__(self, config: SmsConfig, session: requests.Session | None = None) -> None:
        self._config = config
        self._session = session or requests.Session()

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        """Delivered when the provider answers 201 (queued for the carrier)."""
        if not contact.phone:
            return SendResult(Channel.SMS, "failed_permanent", "no phone number")
        return self._post(contact.phone, sms_text(notification))

    def send_to_staff(self, notification: Notification, phone: str) -> SendResult:
        """A work text to a staffer's phone: no opt-out line (the console's setting stops it)."""
        text = f"{notification.title}: {notification.body}"
        tail = f" {notification.url}" if notification.url else ""
        room = MAX_BODY_CHARS - len(tail)
        if len(text) > room:
            text = text[: room - 1].rstrip() + "…"
        return self._post(phone, text + tail)

    def _post(self, phone: str, text: str) -> SendResult:
        config = self._config
        try:
            response = self._session.post(
                config.messages_url,
                data={"To": phone, "From": config.from_number, "Body": text},
                auth=(config.account_sid, config.auth_token),
                timeout=config.timeout_s,
            )
        except requests.RequestException as exc:
            return SendResult(
                Channel.SMS,
                "failed_retryable",
                f"network {type(exc).__name__}",
                timed_out=isinstance(exc, requests.Timeout),
            )
        return _result(response)


def _result(response: requests.Response) -> SendResult:
    status = response.status_code
    try:
        answer = response.json()
    except ValueError:
        answer = None
    answer = answer if isinstance(answer, dict) else {}
    if status == 201:
        sid = answer.get("sid")
        return SendResult(
            Channel.SMS,
            "delivered",
            f"accepted, {answer.get('status', 'queued')}",
            provider_id=sid if isinstance(sid, str) else None,
        )
    # Only the numeric code: the provider's message often quotes the phone number.
    code = answer.get("code")
    detail = f"{status}, code {code}" if isinstance(code, int) else str(status)
    if status == 429 or status >= 500:
        retry = response.headers.get("Retry-After", "")
        return SendResult(
            Channel.SMS,
            "failed_retryable",
            f"provider busy ({detail})",
            retry_after_s=float(retry) if retry.isdigit() else None,
        )
    # 400 (invalid or unsubscribed number, e.g. code 21610), 401/403 (credentials), 404.
    return SendResult(Channel.SMS, "failed_permanent", f"provider refused ({detail})")


@dataclass(frozen=True)
class ConsentChange:
    """What an inbound text asks for, and the reply to send back.

    `opt_out` revokes every SMS consent of the shopper with that number; `opt_in` restores
    the SMS consents the last opt-out revoked (it never grants a purpose the shopper had not
    chosen); `help` changes nothing.
    """

    action: Literal["opt_out", "opt_in", "help"]
    phone: str = field(repr=False)
    keyword: str
    reply: str
    channel: Channel = Channel.SMS


def parse_inbound(form: Mapping[str, str], program: str, help_contact: str) -> ConsentChange | None:
    """The consent change an inbound SMS webhook asks for, or None for any other text.

    Args:
        form: the webhook's form fields (`From`, `Body`, optionally `OptOutType`).
        program: the sender's name as shoppers know it, first in every reply.
        help_contact: where to get help (a URL or phone number) for HELP replies.
    """
    phone = form.get("From", "").strip()
    if not phone:
        return None
    keyword = " ".join(form.get("Body", "").strip().strip(".!").upper().split())
    action = OPT_OUT_TYPES.get(form.get("OptOutType", "").strip().upper())
    if action is None:
        if keyword in OPT_OUT_KEYWORDS:
            action = "opt_out"
        elif keyword in OPT_IN_KEYWORDS:
            action = "opt_in"
        elif keyword in HELP_KEYWORDS:
            action = "help"
        else:
            return None
    replies = {
        "opt_out": f"{program}: you are unsubscribed and will get no more texts. "
        "Reply START to resubscribe.",
        "opt_in": f"{program}: you are resubscribed. Reply HELP for help, STOP to opt out.",
        "help": f"{program}: offers and pickup updates. Help: {help_contact}. "
        "Msg & data rates may apply. Reply STOP to opt out.",
    }
    return ConsentChange(action, phone, keyword, replies[action])


def twiml_reply(text: str) -> str:
    """A TwiML document answering the inbound text with `text`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(text)}</Message></Response>"
    )


def expected_signature(
    auth_token: str, url: str, params: Mapping[str, str] | Iterable[tuple[str, str]]
) -> str:
    """The `X-Twilio-Signature` of a form POST to `url`: HMAC-SHA1 of URL + sorted params."""
    pairs = params.items() if isinstance(params, Mapping) else params
    by_name: dict[str, set[str]] = {}
    for name, value in pairs:
        by_name.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    signature: str,
) -> bool:
    """Whether an inbound webhook really comes from the provider (constant-time compare)."""
    expected = expected_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode())

"""SMS through a local HTTP service speaking the Twilio Messages API; inbound keywords."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
import requests

from store_server.messaging.channels import Contact, Notification, SendResult
from store_server.messaging.channels.router import Router
from store_server.messaging.channels.sms import (
    MAX_BODY_CHARS,
    OPT_OUT_FOOTER,
    SmsConfig,
    SmsSender,
    parse_inbound,
    twiml_reply,
    valid_signature,
)
from store_server.vocabulary import Channel
from tests.support.http import QuietHandler, loopback_server

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "test-auth-token"
FROM = "+15005550006"
PHONE = "+14155550123"


@dataclass
class Provider:
    """A Twilio-compatible Messages API on 127.0.0.1: validates, records, answers as scripted."""

    port: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, dict[str, object], dict[str, str]]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected_auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected_auth:
                return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
            if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                return self.answer(404, {"code": 20404, "message": "not found", "status": 404})
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                return self.answer(400, {"code": 21000, "message": "form", "status": 400})
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            for name in ("To", "From", "Body"):
                if not form.get(name):
                    return self.answer(
                        400, {"code": 21604, "message": f"A '{name}' is required", "status": 400}
                    )
            if state.script:
                status, body, headers = state.script.pop(0)
                return self.answer(status, body, headers)
            sid = f"SM{len(state.messages):032x}"
            state.messages.append(form)
            return self.answer(201, {"sid": sid, "status": "queued", "to": form["To"]})

        def answer(
            self, status: int, body: dict[str, object], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    with loopback_server(Handler) as port:
        state.port = port
        yield state


def sender(provider: Provider, session: requests.Session, token: str = TOKEN) -> SmsSender:
    return SmsSender(SmsConfig(provider.base_url, SID, token, FROM, timeout_s=5.0), session)


NOTE = Notification(
    "msg-7", "offer", "20 % off dresses", "for the next two hours", url="https://s.example/r/ABC"
)


def test_sms_is_posted_to_the_messages_api(
    provider: Provider, http_session: requests.Session
) -> None:
    result = sender(provider, http_session).send(NOTE, Contact(1, phone=PHONE))
    assert (result.channel, result.status) == ("sms", "delivered"), result.reason
    assert result.provider_id == f"SM{0:032x}"
    assert "queued" in result.reason
    [message] = provider.messages
    assert message["To"] == PHONE and message["From"] == FROM
    assert message["Body"] == (
        f"20 % off dresses: for the next two hours https://s.example/r/ABC {OPT_OUT_FOOTER}"
    )


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "retry_after"),
    [
        # Twilio 21610: the recipient replied STOP: never retry.
        (
            400,
            {"code": 21610, "message": f"{PHONE} is unsubscribed", "status": 400},
            {},
            "failed_permanent",
            None,
        ),
        (
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            {"Retry-After": "2"},
            "failed_retryable",
            2.0,
        ),
        (500, {"message": "oops"}, {}, "failed_retryable", None),
    ],
)
def test_provider_answers_map_to_results(
    provider: Provider,
    http_session: requests.Session,
    status: int,
    body: dict[str, object],
    headers: dict[str, str],
    expected: str,
    retry_after: float | None,
) -> None:
    provider.script.append((status, body, headers))
    result = sender(provider, http_session).send(NOTE, Contact(1, phone=PHONE))
    assert (result.status, result.retry_after_s) == (expected, retry_after)
    assert PHONE not in result.reason  # the provider's message quotes the number: not kept


def test_wrong_credentials_are_permanent(
    provider: Provider, http_session: requests.Session
) -> None:
    result = sender(provider, http_session, token="wrong").send(NOTE, Contact(1, phone=PHONE))
    assert result.status == "failed_permanent"
    assert "401" in result.reason and "20003" in result.reason
    assert provider.messages == []


def test_no_phone_is_permanent_and_nothing_is_posted(
    provider: Provider, http_session: requests.Session
) -> None:
    assert sender(provider, http_session).send(NOTE, Contact(1)).status == "failed_permanent"
    assert provider.messages == []


def test_long_text_is_cut_to_the_provider_limit(
    provider: Provider, http_session: requests.Session
) -> None:
    long = Notification("m", "offer", "Offer", "x" * 3000, url="https://s.example/r/ABC")
    assert sender(provider, http_session).send(long, Contact(1, phone=PHONE)).delivered
    text = provider.messages[0]["Body"]
    assert len(text) == MAX_BODY_CHARS
    assert text.endswith(f"… https://s.example/r/ABC {OPT_OUT_FOOTER}")


def test_router_falls_back_from_a_refused_sms_and_logs_no_number(
    provider: Provider, http_session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    provider.script.append((400, {"code": 21211, "message": f"'To' {PHONE} invalid"}, {}))

    class Email:
        channel: Channel = Channel.EMAIL

        def send(self, notification: Notification, contact: Contact) -> SendResult:
            return SendResult(Channel.EMAIL, "delivered", "accepted")

    router = Router([sender(provider, http_session), Email()])
    with caplog.at_level(logging.INFO):
        result = router.deliver(
            NOTE, Contact(1, phone=PHONE, email="m@x.example"), [Channel.SMS, Channel.EMAIL]
        )
    assert [a.status for a in result.attempts] == ["failed_permanent", "delivered"]
    assert result.channel == "email"
    assert PHONE not in caplog.text and "m@x.example" not in caplog.text
    assert "msg-7" in caplog.text


KEYWORDS = [
    ("STOP", "opt_out"),
    ("stop", "opt_out"),
    (" Stop. ", "opt_out"),
    ("STOPALL", "opt_out"),
    ("unsubscribe", "opt_out"),
    ("CANCEL", "opt_out"),
    ("end", "opt_out"),
    ("QUIT", "opt_out"),
    ("revoke", "opt_out"),
    ("Opt  out", "opt_out"),
    ("START", "opt_in"),
    ("yes", "opt_in"),
    ("UNSTOP", "opt_in"),
    ("HELP", "help"),
    ("info", "help"),
    ("stop sending me these", None),
    ("Thanks!", None),
    ("", None),
    ("STOPP", None),
]


@pytest.mark.parametrize(("body", "action"), KEYWORDS)
def test_inbound_keywords(body: str, action: str | None) -> None:
    change = parse_inbound({"From": PHONE, "To": FROM, "Body": body}, "Maria's Store", "s.example")
    assert (change.action if change else None) == action
    if change is not None:
        assert change.phone == PHONE and change.channel == "sms"
        assert change.reply.startswith("Maria's Store: ")
        assert PHONE not in repr(change)


def test_inbound_replies_say_what_happened() -> None:
    def reply(body: str) -> str:
        change = parse_inbound({"From": PHONE, "Body": body}, "Shop", "https://s.example/help")
        assert change is not None
        return change.reply

    assert "unsubscribed" in reply("STOP") and "START" in reply("STOP")
    assert "resubscribed" in reply("START")
    assert "https://s.example/help" in reply("HELP") and "STOP" in reply("HELP")


def test_advanced_opt_out_type_wins_over_the_body() -> None:
    change = parse_inbound({"From": PHONE, "Body": "arret", "OptOutType": "STOP"}, "S", "h")
    assert change is not None and change.action == "opt_out"


def test_inbound_without_sender_is_ignored() -> None:
    assert parse_inbound({"Body": "STOP"}, "S", "h") is None


def test_twiml_reply_escapes() -> None:
    assert twiml_reply("A & B <3").endswith(
        "<Response><Message>A &amp; B &lt;3</Message></Response>"
    )


# Twilio's published request-validation example (twilio-python docs, twilio-php tests).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_webhook_signature_matches_twilios_vector() -> None:
    assert valid_signature("12345", TWILIO_URL, TWILIO_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert valid_signature(
        "12345", TWILIO_URL, list(reversed(TWILIO_PARAMS.items())), "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    forged = dict(TWILIO_PARAMS, Digits="9999")
    assert not valid_signature("12345", TWILIO_URL, forged, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not valid_signature("54321", TWILIO_URL, TWILIO_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not valid_signature("12345", TWILIO_URL, TWILIO_PARAMS, "invalid 王")

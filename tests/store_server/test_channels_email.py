"""E-mail through a real local SMTP server (aiosmtpd): headers, alternatives, SMTP answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from store_server.messaging.channels import Contact, Notification
from store_server.messaging.channels.email import EmailConfig, EmailSender, build_message
from tests.support.smtp import Mailbox, smtp_peer

TOKEN = "u_3f9aKx81bQ"
SHOPPER = "maria@shopper.example"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_peer() as peer:
        yield peer


def config(port: int) -> EmailConfig:
    return EmailConfig(
        host="127.0.0.1",
        port=port,
        from_address="Maria's Store <offers@store.example>",
        unsubscribe_mailbox="unsubscribe@store.example",
        unsubscribe_url="https://store.example/u",
        security="plain",
        timeout_s=5.0,
    )


NOTE = Notification(
    "msg-9",
    "offer",
    "20 % off dresses <today>",
    "For the next two hours & only at the rail.",
    url="https://store.example/r/8F3K2M9QXA",
)


def test_mail_arrives_with_one_click_unsubscribe_and_both_alternatives(
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp
    result = EmailSender(config(port)).send(
        NOTE, Contact(1, email=SHOPPER, unsubscribe_token=TOKEN)
    )
    assert (result.channel, result.status) == ("email", "delivered"), result.reason

    [(recipients, message)] = mailbox.messages
    assert recipients == [SHOPPER]
    assert message["To"] == SHOPPER
    assert message["Subject"] == "20 % off dresses <today>"
    assert message["Message-ID"] == result.provider_id
    # Folded between the two URIs, as RFC 2369 allows: compare unfolded.
    assert " ".join(message["List-Unsubscribe"].split()) == (
        f"<mailto:unsubscribe@store.example?subject=unsubscribe-{TOKEN}>, "
        f"<https://store.example/u/{TOKEN}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert SHOPPER not in message["List-Unsubscribe"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    text_content, html_content = text.get_content(), html.get_content()
    assert "For the next two hours & only at the rail." in text_content
    assert "https://store.example/r/8F3K2M9QXA" in text_content
    assert f"https://store.example/u/{TOKEN}" in text_content
    assert "<h1>20 % off dresses &lt;today&gt;</h1>" in html_content  # escaped, not injected
    assert "&amp; only at the rail" in html_content
    assert f'href="https://store.example/u/{TOKEN}"' in html_content


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("550 5.1.1 No such user", "failed_permanent"),
        ("452 4.2.2 Mailbox full, try later", "failed_retryable"),
    ],
)
def test_refused_recipient(smtp: tuple[Mailbox, int], reply: str, expected: str) -> None:
    mailbox, port = smtp
    mailbox.refuse[SHOPPER] = reply
    result = EmailSender(config(port)).send(
        NOTE, Contact(1, email=SHOPPER, unsubscribe_token=TOKEN)
    )
    assert result.status == expected
    assert reply[:3] in result.reason
    assert SHOPPER not in result.reason
    assert mailbox.messages == []


def test_unreachable_relay_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        result = EmailSender(config(port)).send(
            NOTE, Contact(1, email=SHOPPER, unsubscribe_token=TOKEN)
        )
    assert result.status == "failed_retryable"


def test_starttls_required_but_not_offered_is_permanent(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    strict = EmailConfig(**{**config(port).__dict__, "security": "starttls"})
    result = EmailSender(strict).send(NOTE, Contact(1, email=SHOPPER, unsubscribe_token=TOKEN))
    assert result.status == "failed_permanent"
    assert mailbox.messages == []  # never falls back to plain text


@pytest.mark.parametrize(
    "contact",
    [
        Contact(1, unsubscribe_token=TOKEN),  # no address
        Contact(1, email=SHOPPER),  # no token: no unsubscribe link, no marketing mail
        Contact(1, email=SHOPPER, unsubscribe_token="a\r\nBcc: x@evil.example"),
    ],
)
def test_nothing_is_sent_without_address_or_safe_token(
    smtp: tuple[Mailbox, int], contact: Contact
) -> None:
    mailbox, port = smtp
    assert EmailSender(config(port)).send(NOTE, contact).status == "failed_permanent"
    assert mailbox.messages == []


def test_a_title_cannot_inject_headers() -> None:
    note = Notification("m", "offer", "Hi\r\nBcc: x@evil.example", "body")
    message = build_message(note, SHOPPER, TOKEN, config(25))
    assert message["Bcc"] is None
    assert message["Subject"] == "Hi Bcc: x@evil.example"


def test_one_click_needs_https() -> None:
    with pytest.raises(ValueError, match="https"):
        EmailConfig("h", 25, "a@b.example", "u@b.example", "http://b.example/u")

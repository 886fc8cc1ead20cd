"""E-mail over SMTP: plain text with an HTML alternative, and one-click unsubscribe (RFC 8058).

Every message carries `List-Unsubscribe` with a mailto and an https URL (RFC 2369), both
naming the shopper only by an opaque token, and `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` (RFC 8058), which Gmail and Yahoo require of bulk senders since
February 2024. RFC 8058 also wants a DKIM signature covering both headers: that is the
outgoing MTA's job (the relay this sender talks to).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Literal
from urllib.parse import urlsplit

from store_server.messaging.channels import Contact, DeliveryStatus, Notification, SendResult
from store_server.vocabulary import Channel

DEFAULT_TIMEOUT_S = 15.0
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058 section 3.1, the exact POST body
# Tokens go into URLs and a header: URL-safe characters only (no header or URL injection).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,128}")
# Plain http is accepted only for a server on this machine (a demo or a test): no mailbox
# provider reaches it, so nothing depends on it being https.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class EmailConfig:
    """The SMTP relay and the unsubscribe endpoints.

    Args:
        security: `starttls` (submission, port 587), `tls` (implicit TLS, port 465) or
            `plain` (a local relay on the same host).
        unsubscribe_mailbox: address that unsubscribes whoever writes with the token.
        unsubscribe_url: https base; `{unsubscribe_url}/{token}` takes the one-click POST.
    """

    host: str
    port: int
    from_address: str
    unsubscribe_mailbox: str
    unsubscribe_url: str
    security: Literal["starttls", "tls", "plain"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        parts = urlsplit(self.unsubscribe_url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        ):
            raise ValueError("RFC 8058 one-click unsubscribe needs an https URL")


def build_message(
    notification: Notification,
    to_address: str,
    unsubscribe_token: str | None,
    config: EmailConfig,
) -> EmailMessage:
    """The e-mail for one person: text and HTML alternatives; for a shopper (with her
    unsubscribe token) the unsubscribe headers. A staffer's escalation (no token) is a work
    message, not a mailing: the console's setting is how it stops."""
    unsubscribe_https = None
    if unsubscribe_token is not None:
        if not TOKEN_PATTERN.fullmatch(unsubscribe_token):
            raise ValueError("unsubscribe token must be 8-128 URL-safe characters")
        unsubscribe_https = f"{config.unsubscribe_url.rstrip('/')}/{unsubscribe_token}"
    domain = config.from_address.rpartition("@")[2].strip(">") or None

    message = EmailMessage()
    message["Subject"] = " ".join(notification.title.split())  # no line breaks in a header
    message["From"] = config.from_address
    message["To"] = to_address
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain)
    if unsubscribe_https is not None:
        unsubscribe_mailto = (
            f"mailto:{config.unsubscribe_mailbox}?subject=unsubscribe-{unsubscribe_token}"
        )
        message["List-Unsubscribe"] = f"<{unsubscribe_mailto}>, <{unsubscribe_https}>"
        message["List-Unsubscribe-Post"] = ONE_CLICK

    link = f"\n\n{notification.url}" if notification.url else ""
    footer = (
        f"\n\n-- \nUnsubscribe from these e-mails: {unsubscribe_https}" if unsubscribe_https else ""
    )
    message.set_content(f"{notification.text}{link}{footer}\n")
    button = f'<p><a href="{escape(notification.url)}">Open</a></p>' if notification.url else ""
    html_footer = (
        f'<p style="font-size:small"><a href="{escape(unsubscribe_https)}">Unsubscribe</a>'
        " from these e-mails.</p>"
        if unsubscribe_https
        else ""
    )
    message.add_alternative(
        "<!doctype html><html><body>"
        f"<h1>{escape(notification.title)}</h1><p>{escape(notification.text)}</p>{button}"
        f"{html_footer}</body></html>",
        subtype="html",
    )
    return message


class EmailSender:
    """Submits messages to an SMTP relay, one connection per message."""

    channel: Channel = Channel.EMAIL

    def __init__(self, config: EmailConfig) -> None:
        self._config = config

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        """Delivered when the relay accepts the message (250 after DATA)."""
        if not contact.email:
            return SendResult(Channel.EMAIL, "failed_permanent", "no e-mail address")
        if not contact.unsubscribe_token:
            return SendResult(Channel.EMAIL, "failed_permanent", "no unsubscribe token")
        return self._send(notification, contact.email, contact.unsubscribe_token)

    def send_to_staff(self, notification: Notification, address: str) -> SendResult:
        """A work message to a staffer's log-in address (no unsubscribe headers)."""
        return self._send(notification, address, None)

    def _send(self, notification: Notification, address: str, token: str | None) -> SendResult:
        try:
            message = build_message(notification, address, token, self._config)
        except ValueError as exc:  # an unusable address, token or header
            return SendResult(
                Channel.EMAIL, "failed_permanent", f"bad message {type(exc).__name__}"
            )
        try:
            self._submit(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return _by_code(min(codes, default=550), "recipient refused")
        except smtplib.SMTPNotSupportedError:
            return SendResult(Channel.EMAIL, "failed_permanent", "relay lacks STARTTLS or AUTH")
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth, 421
            return _by_code(exc.smtp_code, "relay refused")
        except ssl.SSLCertVerificationError:
            return SendResult(Channel.EMAIL, "failed_permanent", "relay certificate not trusted")
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out
            return SendResult(
                Channel.EMAIL,
                "failed_retryable",
                f"relay unreachable {type(exc).__name__}",
                timed_out=_timed_out(exc),
            )
        return SendResult(
            Channel.EMAIL, "delivered", "accepted by the relay", provider_id=message["Message-ID"]
        )

    def _submit(self, message: EmailMessage) -> None:
        config = self._config
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(message)


def _timed_out(exc: BaseException) -> bool:
    """Whether a socket timeout caused it (smtplib reports a silent relay as disconnected)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _by_code(code: int, what: str) -> SendResult:
    """RFC 5321 section 4.2.1: 4yz is transient, 5yz permanent."""
    status: DeliveryStatus = "failed_permanent" if code >= 500 else "failed_retryable"
    return SendResult(Channel.EMAIL, status, f"{what} ({code})")

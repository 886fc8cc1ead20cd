"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291).

The server's VAPID key pair is generated once at set-up and kept under the server's var/
directory; the public half is the `applicationServerKey` the shopper page subscribes with.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from py_vapid.utils import b64urlencode
from pywebpush import WebPusher, WebPushException

from store_server.messaging.channels import Contact, Notification, PushSubscription, SendResult
from store_server.vocabulary import Channel

VAPID_PRIVATE_KEY_FILE = "vapid_private.pem"
VAPID_PUBLIC_KEY_FILE = "vapid_public.txt"  # base64url of the uncompressed P-256 point
# RFC 8292 section 2: `exp` must be no more than 24 hours after the request; 12 h leaves room
# for clock skew between us and the push service.
VAPID_TOKEN_LIFETIME_S = 12 * 3600
# RFC 8291 section 4: push services must accept 4,096 octets of body; aes128gcm adds a
# 86-octet header (salt 16, record size 4, key id length 1, key id 65), a 16-octet tag and a
# 1-octet padding delimiter, which leaves 3,993 octets of plaintext.
MAX_PLAINTEXT_BYTES = 4096 - 86 - 16 - 1
# A push nobody could receive within four weeks is stale whatever it says (RFC 8030 lets the
# service cap TTL; four weeks is the common cap, e.g. Mozilla's autopush).
MAX_TTL_S = 28 * 86400
DEFAULT_TIMEOUT_S = 10.0
# RFC 8030 section 5: 201 Created is the only acceptance; 404 and 410 mean the subscription is
# gone (delete it), 413 a payload too large, 400/401/403 a request that will never succeed.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410, 413})
GONE_STATUSES = frozenset({404, 410})


log = logging.getLogger(__name__)
# Apple's push service says why it refused in a JSON `reason` (BadJwtToken, BadDeviceToken,
# ExpiredJwtToken, ...); a plain word is all we echo into records and logs.
_REASON_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class VapidKeyError(RuntimeError):
    """The VAPID key files are missing or unreadable."""


@dataclass(frozen=True)
class VapidKeys:
    """The server's VAPID key pair: the private key's file and the public key to publish."""

    private_key_path: Path
    application_server_key: str  # base64url, what PushManager.subscribe() takes


def ensure_vapid_keys(var_dir: Path) -> VapidKeys:
    """Load the VAPID keys from `var_dir`, generating them on first use (idempotent)."""
    private = var_dir / VAPID_PRIVATE_KEY_FILE
    public = var_dir / VAPID_PUBLIC_KEY_FILE
    if not private.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        vapid = Vapid02()
        vapid.generate_keys()
        # Written owner-only and atomically: a crash never leaves half a key.
        tmp = private.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(vapid.private_pem())
        tmp.replace(private)
        public.write_text(_public_key_b64(vapid) + "\n")
    return load_vapid_keys(var_dir)


def load_vapid_keys(var_dir: Path) -> VapidKeys:
    """The VAPID keys generated earlier by `ensure_vapid_keys`."""
    private = var_dir / VAPID_PRIVATE_KEY_FILE
    key = _public_key_b64(_read_private_key(private))
    public = var_dir / VAPID_PUBLIC_KEY_FILE
    if not public.exists() or public.read_text().strip() != key:
        public.write_text(key + "\n")  # derived data: rewrite if missing or stale
    return VapidKeys(private, key)


def _read_private_key(path: Path) -> Vapid02:
    # Not Vapid02.from_file: it silently generates and saves a new key when the file is missing.
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise VapidKeyError(f"cannot read VAPID key {path}: {type(exc).__name__}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise VapidKeyError(f"{path} is not a P-256 key (VAPID needs ES256)")
    return Vapid02(key)


def _public_key_b64(vapid: Vapid02) -> str:
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return str(b64urlencode(raw))


class WebPushSender:
    """Encrypts the notification for the shopper's subscription and posts it with VAPID."""

    channel: Channel = Channel.PUSH

    def __init__(
        self,
        keys: VapidKeys,
        subject: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args: subject: a `mailto:` or `https:` contact for the push service (RFC 8292)."""
        self._clock = clock
        self._vapid = _read_private_key(keys.private_key_path)
        self._subject = subject
        self._timeout_s = timeout_s
        self._session = session or requests.Session()

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        """Delivered when the push service answers 201; gone subscriptions are permanent."""
        if contact.push is None:
            return SendResult(Channel.PUSH, "failed_permanent", "no push subscription")
        return self.send_to(notification, contact.push)

    def send_to(self, notification: Notification, subscription: PushSubscription) -> SendResult:
        """Push to one browser subscription (a shopper's or a staffer's)."""
        body = json.dumps(notification.payload(), separators=(",", ":")).encode()
        if len(body) > MAX_PLAINTEXT_BYTES:
            return SendResult(
                Channel.PUSH, "failed_permanent", f"payload {len(body)} bytes too large"
            )
        now = self._clock()
        ttl = MAX_TTL_S
        if notification.expires_at is not None:
            ttl = int(min(MAX_TTL_S, notification.expires_at - now))
            if ttl <= 0:
                return SendResult(Channel.PUSH, "failed_permanent", "expired before sending")
        try:
            parts = urlsplit(subscription.endpoint)
            claims: dict[str, str | int] = {
                "sub": self._subject,
                "aud": f"{parts.scheme}://{parts.netloc}",
                "exp": int(now) + VAPID_TOKEN_LIFETIME_S,
            }
            headers = self._vapid.sign(claims)
            headers["Urgency"] = "normal"
            pusher = WebPusher(
                {
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                requests_session=self._session,
            )
            response = pusher.send(body, headers, ttl=ttl, timeout=self._timeout_s)
        except WebPushException as exc:  # a malformed subscription: it will never work
            return SendResult(
                Channel.PUSH, "failed_permanent", f"bad subscription {type(exc).__name__}"
            )
        except requests.RequestException as exc:
            return SendResult(
                Channel.PUSH,
                "failed_retryable",
                f"network {type(exc).__name__}",
                timed_out=isinstance(exc, requests.Timeout),
            )
        except Exception as exc:  # noqa: BLE001 - key or encoding errors from the libraries
            return SendResult(Channel.PUSH, "failed_permanent", f"push error {type(exc).__name__}")
        if not isinstance(response, requests.Response):  # a str only with curl=True
            return SendResult(Channel.PUSH, "failed_permanent", "no response")
        return _result(response)


def refusal_reason(response: requests.Response) -> str:
    """Why the push service refused, as one word (Apple's `reason`), or `unknown`."""
    try:
        reason = response.json().get("reason")
    except (ValueError, AttributeError):
        return "unknown"
    return reason if isinstance(reason, str) and _REASON_WORD.match(reason) else "unknown"


def _result(response: requests.Response) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:  # RFC 8030 says 201; some services answered 200 or 202
        return SendResult(Channel.PUSH, "delivered", "accepted by the push service")
    reason = refusal_reason(response)
    # The host only: the endpoint's path names the subscription.
    host = urlsplit(response.url).hostname or "unknown"
    log.warning("event=push_refused host=%s status=%d reason=%s", host, status, reason)
    if status in GONE_STATUSES:
        return SendResult(
            Channel.PUSH,
            "failed_permanent",
            f"subscription gone ({status} {reason})",
            contact_gone=True,
        )
    if status in PERMANENT_STATUSES:
        return SendResult(Channel.PUSH, "failed_permanent", f"refused ({status} {reason})")
    retry = response.headers.get("Retry-After", "")
    return SendResult(
        Channel.PUSH,
        "failed_retryable" if status == 429 or status >= 500 else "failed_permanent",
        f"push service answered {status}",
        retry_after_s=float(retry) if retry.isdigit() else None,
    )

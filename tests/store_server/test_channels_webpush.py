"""Web Push through a real local push endpoint that verifies VAPID and decrypts the payload."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.stack import free_port
from store_server.messaging.channels import Contact, Notification, PushSubscription
from store_server.messaging.channels.webpush import (
    VAPID_PRIVATE_KEY_FILE,
    VapidKeyError,
    VapidKeys,
    WebPushSender,
    ensure_vapid_keys,
    load_vapid_keys,
)
from tests.support.http import QuietHandler, loopback_server

SUBJECT = "mailto:ops@store.example"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """A push endpoint on 127.0.0.1: records requests, answers the scripted statuses."""

    port: int
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    refusal_body: bytes = b""  # the body of a scripted answer, e.g. Apple's {"reason": ...}

    def endpoint(self, name: str = "sub-1") -> str:
        return f"http://127.0.0.1:{self.port}/wpush/v2/{name}"


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService(port=0)

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            service.received.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, headers = service.script.pop(0) if service.script else (201, {})
            answer = service.refusal_body if status != 201 else b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    with loopback_server(Handler) as port:
        service.port = port
        yield service


@dataclass
class Browser:
    """What a browser keeps for its subscription: the private key and the auth secret."""

    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    def subscription(self, endpoint: str) -> PushSubscription:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return PushSubscription(endpoint, b64url(public), b64url(self.auth_secret))


@pytest.fixture
def browser() -> Browser:
    return Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return ensure_vapid_keys(tmp_path / "var")


def coupon(expires_in_s: float = 7200.0) -> Notification:
    return Notification(
        message_id="msg-42",
        kind="offer",
        title="20 % off dresses",
        body="For the next two hours, at the dresses rail",
        url="https://store.example/r/8F3K2M9QXA",
        expires_at=time.time() + expires_in_s,
        data={"code": "8F3K2M9QXA"},
    )


def verify_vapid(authorization: str, expected_public_key: str) -> dict[str, object]:
    """Check an RFC 8292 `vapid t=<jwt>,k=<key>` header the way a push service does."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert fields["k"] == expected_public_key
    header_b64, claims_b64, signature_b64 = fields["t"].split(".")
    assert json.loads(b64url_decode(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = b64url_decode(signature_b64)
    assert len(signature) == 64  # JWS ES256: r || s, 32 bytes each
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(fields["k"])
    )
    public.verify(  # raises InvalidSignature on a forged or altered token
        encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        ),
        f"{header_b64}.{claims_b64}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    claims: dict[str, object] = json.loads(b64url_decode(claims_b64))
    return claims


def test_push_is_signed_with_vapid_and_decrypts_to_the_payload(
    push_service: PushService, browser: Browser, keys: VapidKeys, http_session: requests.Session
) -> None:
    sender = WebPushSender(keys, SUBJECT, session=http_session)
    notification = coupon()
    contact = Contact(shopper_id=1, push=browser.subscription(push_service.endpoint()))

    before = time.time()
    result = sender.send(notification, contact)

    assert (result.channel, result.status) == ("push", "delivered"), result.reason
    [request] = push_service.received
    assert request.path == "/wpush/v2/sub-1"
    claims = verify_vapid(request.headers["authorization"], keys.application_server_key)
    assert claims["aud"] == f"http://127.0.0.1:{push_service.port}"
    assert claims["sub"] == SUBJECT
    assert isinstance(claims["exp"], int)
    assert before < claims["exp"] <= before + 24 * 3600  # RFC 8292: at most 24 h ahead
    assert request.headers["content-encoding"] == "aes128gcm"
    assert 0 < int(request.headers["ttl"]) <= 7200  # never outlives the coupon
    plaintext = http_ece.decrypt(
        request.body,
        private_key=browser.private_key,
        auth_secret=browser.auth_secret,
        version="aes128gcm",
    )
    assert json.loads(plaintext) == notification.payload()
    assert notification.title.encode() not in request.body  # encrypted on the wire


def test_a_tampered_token_fails_verification(
    push_service: PushService, browser: Browser, keys: VapidKeys, http_session: requests.Session
) -> None:
    from cryptography.exceptions import InvalidSignature

    WebPushSender(keys, SUBJECT, session=http_session).send(
        coupon(), Contact(1, push=browser.subscription(push_service.endpoint()))
    )
    auth = push_service.received[0].headers["authorization"]
    token = auth.split("t=", 1)[1].split(",", 1)[0]
    header, claims, signature = token.split(".")
    forged_claims = b64url(json.dumps({"aud": "https://evil.example", "sub": SUBJECT}).encode())
    with pytest.raises(InvalidSignature):
        verify_vapid(
            auth.replace(token, f"{header}.{forged_claims}.{signature}"),
            keys.application_server_key,
        )


@pytest.mark.parametrize(
    ("status", "headers", "expected", "retry_after"),
    [
        (410, {}, "failed_permanent", None),  # unsubscribed: delete the subscription
        (404, {}, "failed_permanent", None),
        (413, {}, "failed_permanent", None),
        (429, {"Retry-After": "30"}, "failed_retryable", 30.0),
        (503, {}, "failed_retryable", None),
    ],
)
def test_push_service_answers_map_to_results(
    push_service: PushService,
    browser: Browser,
    keys: VapidKeys,
    http_session: requests.Session,
    status: int,
    headers: dict[str, str],
    expected: str,
    retry_after: float | None,
) -> None:
    push_service.script.append((status, headers))
    result = WebPushSender(keys, SUBJECT, session=http_session).send(
        coupon(), Contact(1, push=browser.subscription(push_service.endpoint()))
    )
    assert (result.status, result.retry_after_s) == (expected, retry_after)
    assert str(status) in result.reason


def test_unreachable_push_service_is_retryable(
    browser: Browser, keys: VapidKeys, http_session: requests.Session
) -> None:
    port = free_port()  # bound, then closed: nobody listens there
    result = WebPushSender(keys, SUBJECT, timeout_s=2.0, session=http_session).send(
        coupon(), Contact(1, push=browser.subscription(f"http://127.0.0.1:{port}/x"))
    )
    assert result.status == "failed_retryable"
    assert "127.0.0.1" not in result.reason


def test_nothing_is_posted_without_subscription_or_after_expiry(
    push_service: PushService, browser: Browser, keys: VapidKeys, http_session: requests.Session
) -> None:
    sender = WebPushSender(keys, SUBJECT, session=http_session)
    assert sender.send(coupon(), Contact(1)).status == "failed_permanent"
    expired = sender.send(
        coupon(expires_in_s=-1), Contact(1, push=browser.subscription(push_service.endpoint()))
    )
    assert expired.status == "failed_permanent"
    too_big = Notification("m", "offer", "t", "x" * 5000)
    assert (
        sender.send(too_big, Contact(1, push=browser.subscription(push_service.endpoint()))).status
        == "failed_permanent"
    )
    assert push_service.received == []


def test_vapid_keys_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = ensure_vapid_keys(var)
    assert ensure_vapid_keys(var) == first == load_vapid_keys(var)
    mode = stat.S_IMODE((var / VAPID_PRIVATE_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    raw = b64url_decode(first.application_server_key)
    assert len(raw) == 65 and raw[0] == 4  # an uncompressed P-256 point, as browsers want


def test_missing_keys_are_an_error_not_a_new_key(tmp_path: Path) -> None:
    with pytest.raises(VapidKeyError):
        load_vapid_keys(tmp_path)
    assert not (tmp_path / VAPID_PRIVATE_KEY_FILE).exists()


def test_apples_rejection_reason_is_recorded_and_logged(
    keys: VapidKeys,
    browser: Browser,
    push_service: PushService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # web.push.apple.com answers a refused VAPID token 403 {"reason": "BadJwtToken"}.
    push_service.script.append((403, {"Content-Type": "application/json"}))
    push_service.refusal_body = b'{"reason": "BadJwtToken"}'
    sender = WebPushSender(keys, "mailto:ops@shop.example")
    with caplog.at_level(logging.WARNING, logger="store_server.messaging.channels.webpush"):
        result = sender.send(
            coupon(), Contact(1, push=browser.subscription(push_service.endpoint()))
        )
    assert result.status == "failed_permanent"
    assert result.reason == "refused (403 BadJwtToken)"
    [line] = [r.getMessage() for r in caplog.records if "push_refused" in r.getMessage()]
    assert line == "event=push_refused host=127.0.0.1 status=403 reason=BadJwtToken"
    assert "wpush" not in line  # the endpoint's path names the subscription: never logged


def test_a_reason_that_is_not_a_plain_word_is_not_echoed(
    keys: VapidKeys, browser: Browser, push_service: PushService
) -> None:
    push_service.script.append((400, {}))
    push_service.refusal_body = b'{"reason": "see <script>alert(1)</script> +447700900123"}'
    result = WebPushSender(keys, "mailto:ops@shop.example").send(
        coupon(), Contact(1, push=browser.subscription(push_service.endpoint()))
    )
    assert result.reason == "refused (400 unknown)"

"""Staff accounts: argon2 password hashes, bearer-token sessions, and the login endpoint."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, Response, jsonify, request
from sqlalchemy import delete, select

from store_server.db.models import Device, IntegrationToken, StaffSession, StaffUser, Store
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import LoginIn, LoginOut, StaffOut, parse_body

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")
password_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown e-mail as slow as a wrong password.
_DUMMY_HASH = password_hasher.hash(secrets.token_hex(16))
# Sessions expire by wall-clock time; tests patch this alias.


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return password_hasher.hash(password)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a bearer token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(token: str, digest: str) -> bool:
    """Compare a presented token with a stored digest in constant time."""
    return hmac.compare_digest(token_digest(token), digest)


@dataclass(frozen=True)
class StaffIdentity:
    """The staffer behind a valid session token."""

    staff_id: int
    store_id: int
    name: str
    role: str


@dataclass(frozen=True)
class DeviceIdentity:
    """The shopper's app behind a device token."""

    device_id: int
    shopper_id: int


def device_for_token(token: str | None) -> DeviceIdentity | None:
    """The device a shopper app's token belongs to, or None."""
    if not token:
        return None
    with services().db.sessions() as session:
        row = session.execute(
            select(Device.id, Device.shopper_id).where(Device.token_sha256 == token_digest(token))
        ).first()
    return DeviceIdentity(row[0], row[1]) if row else None


def require_device() -> DeviceIdentity:
    """The request's shopper device (401 without a valid device token)."""
    device = device_for_token(bearer_token(request.headers.get("Authorization")))
    if device is None:
        raise ApiError(401, "unauthorized", "this app is not registered (or was erased)")
    return device


def require_integration(store_id: int) -> None:
    """The request comes from a system the store registered (its order system)."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise ApiError(401, "unauthorized", "missing integration token")
    with services().db.sessions() as session:
        row = session.get(IntegrationToken, token_digest(token))
    if row is None:
        raise ApiError(401, "unauthorized", "unknown integration token")
    if row.store_id != store_id:
        raise ApiError(403, "forbidden", "this token belongs to another store")


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def staff_for_token(token: str | None, now: float) -> StaffIdentity | None:
    """Look up a live session; None for a missing, unknown or expired token."""
    if not token:
        return None
    db = services().db
    with db.sessions() as session:
        row = session.execute(
            select(StaffUser, StaffSession.expires_at)
            .join(StaffSession, StaffSession.staff_id == StaffUser.id)
            .where(StaffSession.token_sha256 == token_digest(token))
        ).first()
    if row is None or row[1] <= now or not row[0].active:
        return None
    user = row[0]
    return StaffIdentity(user.id, user.store_id, user.name, user.role)


def require_staff(store_id: int | None = None) -> StaffIdentity:
    """The request's staffer (401 without a valid session; 403 for another store)."""
    token = bearer_token(request.headers.get("Authorization"))
    identity = staff_for_token(token, services().clock())
    if identity is None:
        raise ApiError(401, "unauthorized", "log in again: the session is missing or expired")
    if store_id is not None and identity.store_id != store_id:
        raise ApiError(403, "forbidden", "this account belongs to another store")
    return identity


def require_manager(store_id: int) -> StaffIdentity:
    """The request's staffer, who must be a manager of that store (403 `managers_only`)."""
    staff = require_staff(store_id)
    if staff.role != "manager":
        raise ApiError(403, "managers_only", "only a manager of this store can do this")
    return staff


@bp.post("/login")
@documented("Log a staffer in", body=LoginIn, answer=LoginOut, errors=(400, 401), public=True)
def login() -> tuple[Response, int]:
    """Exchange e-mail and password for a bearer token."""
    body = parse_body(LoginIn, request.get_json(silent=True))
    db = services().db
    settings = services().settings
    now = services().clock()
    with db.transaction() as session:
        row = session.execute(
            select(StaffUser, Store)
            .join(Store, Store.id == StaffUser.store_id)
            .where(StaffUser.email == body.email.strip().lower())
        ).first()
        password_ok = _password_ok(row[0].password_hash if row else _DUMMY_HASH, body.password)
        if row is None or not password_ok or not row[0].active:
            raise ApiError(401, "invalid_credentials", "wrong e-mail or password")
        user, store = row
        token = secrets.token_urlsafe(32)
        expires_at = now + settings.session_ttl_s
        session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
        session.add(
            StaffSession(
                token_sha256=token_digest(token),
                staff_id=user.id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        out = LoginOut(
            token=token,
            expires_at=expires_at,
            staff=StaffOut(
                id=user.id,
                name=user.name,
                role=user.role,  # type: ignore[arg-type]  # a checked string column
                store_id=store.id,
                store_name=store.name,
            ),
        )
    return jsonify(out.model_dump()), 200


@bp.post("/logout")
@documented("End the presented staff session")
def logout() -> tuple[Response, int]:
    """End the presented session."""
    token = bearer_token(request.headers.get("Authorization"))
    if token:
        with services().db.transaction() as session:
            session.execute(
                delete(StaffSession).where(StaffSession.token_sha256 == token_digest(token))
            )
    return jsonify({"logged_out": True}), 200


def _password_ok(stored_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False

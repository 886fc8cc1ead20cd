"""Staff accounts: argon2 password hashes, bearer-token sessions, and who a token belongs to."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store_server.db.database import Database
from store_server.db.models import (
    Chain,
    Device,
    IntegrationToken,
    StaffSession,
    StaffStore,
    StaffUser,
    Store,
)
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import StaffRole

password_hasher = PasswordHasher()
_T = TypeVar("_T")
# Verifying against this keeps a login for an unknown e-mail as slow as a wrong password.
_DUMMY_HASH = password_hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _off_the_event_loop(lambda: password_hasher.hash(password))


def _off_the_event_loop(work: Callable[[], _T]) -> _T:
    """Run argon2 (64 MiB and tens of milliseconds by design; seconds on a busy machine) on a
    native thread when the process serves with gevent: on the event loop it stalls every
    connection of the one worker meanwhile (a tablet's Socket.IO connect waited out its 10 s
    timeout behind logins). argon2's C code runs without the GIL, so the loop goes on."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return work()
    import gevent

    result: _T = gevent.get_hub().threadpool.apply(work)
    return result


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a bearer token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(token: str, digest: str) -> bool:
    """Compare a presented token with a stored digest in constant time."""
    return hmac.compare_digest(token_digest(token), digest)


# What each role may do includes what the roles before it may (an admin is a manager too).
ROLE_RANK = {StaffRole.STAFF: 0, StaffRole.MANAGER: 1, StaffRole.ADMIN: 2}


@dataclass(frozen=True)
class StaffIdentity:
    """The staffer behind a valid session token, and the stores they may act at."""

    staff_id: int
    store_id: int  # where the tablet and console open first
    name: str
    role: str
    chain_id: int
    store_ids: frozenset[int]


def may_act(identity: StaffIdentity, store_id: int, role: StaffRole = StaffRole.STAFF) -> bool:
    """Whether this staffer may act at this store with at least this role: the one rule every
    check of a staffer's access applies (stores of another chain are never in `store_ids`)."""
    return store_id in identity.store_ids and ROLE_RANK[StaffRole(identity.role)] >= ROLE_RANK[role]


def identity_of(session: Session, user: StaffUser) -> StaffIdentity:
    """The account as a StaffIdentity: its assigned stores, or every store of its chain for
    an admin (stores of another chain never, whatever the assignments say)."""
    query = select(Store.id).where(Store.chain_id == user.chain_id)
    if user.role != StaffRole.ADMIN:
        query = query.join(StaffStore, StaffStore.store_id == Store.id).where(
            StaffStore.staff_id == user.id
        )
    store_ids = frozenset(session.scalars(query))
    return StaffIdentity(user.id, user.store_id, user.name, user.role, user.chain_id, store_ids)


@dataclass(frozen=True)
class DeviceIdentity:
    """The shopper's app behind a device token."""

    device_id: int
    shopper_id: int


@dataclass(frozen=True)
class Login:
    """A new staff session: its bearer token and who it belongs to."""

    token: str
    expires_at: float
    staff_id: int
    name: str
    role: str
    store_id: int
    store_name: str
    stores: tuple[tuple[int, str], ...] = ()  # (id, name) of every store they may act at


def device_for_token(db: Database, token: str | None) -> DeviceIdentity | None:
    """The device a shopper app's token belongs to, or None."""
    if not token:
        return None
    with db.sessions() as session:
        row = session.execute(
            select(Device.id, Device.shopper_id).where(Device.token_sha256 == token_digest(token))
        ).first()
    return DeviceIdentity(row[0], row[1]) if row else None


def integration_store(db: Database, token: str) -> int | None:
    """The store that registered this integration token, or None for an unknown token."""
    with db.sessions() as session:
        row = session.get(IntegrationToken, token_digest(token))
    return None if row is None else row.store_id


def staff_for_token(db: Database, token: str | None, now: float) -> StaffIdentity | None:
    """Look up a live session; None for a missing, unknown or expired token."""
    if not token:
        return None
    with db.sessions() as session:
        row = session.execute(
            select(StaffUser, StaffSession.expires_at)
            .join(StaffSession, StaffSession.staff_id == StaffUser.id)
            .where(StaffSession.token_sha256 == token_digest(token))
        ).first()
        if row is None or row[1] <= now or not row[0].active:
            return None
        return identity_of(session, row[0])


def log_in(
    session: Session,
    email: str,
    password: str,
    now: float,
    ttl_s: float,
    chain_id: int | None = None,
) -> Login:
    """Exchange e-mail and password for a new session (expired sessions are swept on the way).

    The same address may be an account at several chains (`chain_id` picks one). Without it,
    the password is checked against each active account of the address: the one it opens logs
    in; if it opens several, conflict `choose_chain` lists those chains (and only those: only
    someone who knows the password learns of them) for the form to ask which one.
    """
    query = (
        select(StaffUser, Store)
        .join(Store, Store.id == StaffUser.store_id)
        .where(StaffUser.email == email.strip().lower(), StaffUser.active.is_(True))
        .order_by(StaffUser.chain_id)
    )
    if chain_id is not None:
        query = query.where(StaffUser.chain_id == chain_id)
    rows = session.execute(query).all()
    if not rows:
        _password_ok(_DUMMY_HASH, password)  # as slow as a wrong password
    opened = [(user, store) for user, store in rows if _password_ok(user.password_hash, password)]
    if not opened:
        raise DomainError(Refusal.UNAUTHORIZED, "invalid_credentials", "wrong e-mail or password")
    if len(opened) > 1:
        chains = [
            {"id": chain.id, "name": chain.name}
            for chain in session.scalars(
                select(Chain)
                .where(Chain.id.in_([user.chain_id for user, _ in opened]))
                .order_by(Chain.name, Chain.id)
            )
        ]
        raise DomainError(
            Refusal.CONFLICT,
            "choose_chain",
            "this e-mail logs in at several chains: choose one",
            {"chains": chains},
        )
    user, store = opened[0]
    token = secrets.token_urlsafe(32)
    expires_at = now + ttl_s
    session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    session.add(
        StaffSession(
            token_sha256=token_digest(token),
            staff_id=user.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    allowed = identity_of(session, user).store_ids
    names = session.execute(
        select(Store.id, Store.name).where(Store.id.in_(allowed)).order_by(Store.name, Store.id)
    ).all()
    stores = tuple((store_id, name) for store_id, name in names)
    return Login(token, expires_at, user.id, user.name, user.role, store.id, store.name, stores)


def log_out(session: Session, token: str) -> None:
    """End the session of this token (an unknown token is fine)."""
    session.execute(delete(StaffSession).where(StaffSession.token_sha256 == token_digest(token)))


def _password_ok(stored_hash: str, password: str) -> bool:
    try:
        return _off_the_event_loop(lambda: password_hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False

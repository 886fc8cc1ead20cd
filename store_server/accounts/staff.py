"""Staff accounts: adding one (a staffer or manager at the stores assigned, an admin of a
chain), changing its role and stores, setting its password, deactivating it (its sessions end
at once).

E-mail addresses are compared trimmed and lower-cased, as `auth.log_in` looks them up; an
address is unique within a chain (the same one may be an account at another chain).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import Session

from store_server.accounts.auth import StaffIdentity, hash_password, identity_of, may_act
from store_server.accounts.stores import invalid
from store_server.db.database import rows_changed
from store_server.db.models import (
    Chain,
    StaffPushSubscription,
    StaffSession,
    StaffStore,
    StaffUser,
    Store,
)
from store_server.messaging.push import subscription_problems
from store_server.pickup.matching import normalised_phone
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import Channel, StaffRole

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAIL = 254
MAX_STAFF_NAME = 100
# Ten characters keeps a shared tablet's password out of reach of guessing over the login API;
# the upper bound keeps argon2's input (and the login schema's 200) sane.
MIN_PASSWORD = 10
MAX_PASSWORD = 200


def staff_email(email: str) -> str:
    """An e-mail address as staff accounts store it (invalid `invalid_email` if it is not one)."""
    normalised = email.strip().lower()
    if len(normalised) > MAX_EMAIL or not _EMAIL.match(normalised):
        raise invalid("email", "the e-mail address is not valid")
    return normalised


def checked_password(password: str) -> str:
    """The password if it is long enough and not too long (invalid `invalid_password`)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise invalid("password", f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def add_staff(
    session: Session,
    stores: Sequence[int],
    email: str,
    name: str,
    role: str,
    password: str,
    *,
    chain_id: int | None = None,
) -> StaffUser:
    """Add an active account: a staffer or manager at these stores (all of one chain), or an
    admin of the chain `chain_id` (or of the stores' chain), whose first store the console opens
    at. Invalid values name their field; conflict `email_taken`."""
    email = staff_email(email)
    name = name.strip()
    if not name or len(name) > MAX_STAFF_NAME:
        raise invalid("name", f"name: a name has 1 to {MAX_STAFF_NAME} characters")
    if role not in tuple(StaffRole):
        raise invalid("role", f"role must be one of {', '.join(StaffRole)}")
    checked_password(password)
    assigned = _assigned_stores(session, stores, role, chain_id)
    taken = select(StaffUser.id).where(
        StaffUser.email == email, StaffUser.chain_id == assigned[0].chain_id
    )
    if session.scalar(taken) is not None:
        # The message does not repeat the address: it may end up in a log.
        raise DomainError(
            Refusal.CONFLICT, "email_taken", "a staff account of this chain has this e-mail"
        )
    user = StaffUser(
        chain_id=assigned[0].chain_id,
        store_id=assigned[0].id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(user)
    session.flush()
    if role != StaffRole.ADMIN:  # an admin's stores are her chain's, whichever they are
        session.add_all(StaffStore(staff_id=user.id, store_id=store.id) for store in assigned)
        session.flush()
    return user


def _assigned_stores(
    session: Session, store_ids: Sequence[int], role: str, chain_id: int | None
) -> list[Store]:
    """The stores an account is for, checked: existing, of one chain (the given one); for an
    admin without stores, her chain's first store."""
    if chain_id is not None and session.get(Chain, chain_id) is None:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_chain", "chain: no such chain", {"field": "chain"}
        )
    if role != StaffRole.ADMIN and not store_ids:
        raise invalid("store", "store: a staffer or manager needs at least one store")
    if role == StaffRole.ADMIN and chain_id is None and not store_ids:
        raise invalid("chain", "chain: an admin needs the chain she administers")
    found = []
    for store_id in dict.fromkeys(store_ids):
        store = session.get(Store, store_id)
        if store is None:
            raise DomainError(
                Refusal.NOT_FOUND,
                "unknown_store",
                f"store: no store {store_id}",
                {"field": "store"},
            )
        found.append(store)
    chains = {store.chain_id for store in found} | ({chain_id} if chain_id is not None else set())
    if len(chains) > 1:
        raise invalid("store", "store: every store of an account is of one chain")
    if not found:
        first = session.scalar(select(Store).where(Store.chain_id == chain_id).order_by(Store.id))
        if first is None:
            raise invalid("chain", "chain: the chain has no store yet (create one first)")
        found.append(first)
    return found


def managers_of(session: Session, store_id: int) -> list[StaffUser]:
    """The active managers of a store: those assigned to it and the admins of its chain."""
    store = session.get(Store, store_id)
    if store is None:
        return []
    assigned = exists().where(StaffStore.staff_id == StaffUser.id, StaffStore.store_id == store_id)
    return list(
        session.scalars(
            select(StaffUser)
            .where(
                StaffUser.active.is_(True),
                or_(
                    and_(StaffUser.role == StaffRole.MANAGER, assigned),
                    and_(StaffUser.role == StaffRole.ADMIN, StaffUser.chain_id == store.chain_id),
                ),
            )
            .order_by(StaffUser.id)
        )
    )


def staff_by_email(session: Session, email: str, chain_id: int | None = None) -> StaffUser:
    """The staff account with this e-mail (of this chain): not found `unknown_staff`; invalid
    `chain` when the address has accounts at several chains and no chain is given."""
    query = select(StaffUser).where(StaffUser.email == staff_email(email))
    if chain_id is not None:
        query = query.where(StaffUser.chain_id == chain_id)
    users = list(session.scalars(query.limit(2)))
    if not users:
        raise DomainError(Refusal.NOT_FOUND, "unknown_staff", "no staff account has this e-mail")
    if len(users) > 1:
        raise invalid("chain", "chain: this e-mail has an account at several chains: name one")
    return users[0]


def end_sessions(session: Session, staff_id: int) -> int:
    """Log this staffer out everywhere; how many sessions ended."""
    return rows_changed(
        session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
    )


def set_password(
    session: Session, email: str, password: str, chain_id: int | None = None
) -> StaffUser:
    """Give an account a new password and end its sessions (whoever knew the old one is out)."""
    user = staff_by_email(session, email, chain_id)
    user.password_hash = hash_password(checked_password(password))
    end_sessions(session, user.id)
    return user


def deactivate_staff(session: Session, email: str, chain_id: int | None = None) -> StaffUser:
    """Stop an account logging in and end its sessions at once (its history stays)."""
    user = staff_by_email(session, email, chain_id)
    user.active = False
    end_sessions(session, user.id)
    return user


@dataclass(frozen=True)
class EscalationChannel:
    """How a manager hears of escalations away from the console (no address in it)."""

    channel: str  # "" (the console only), or a vocabulary.Channel: push, sms, email
    phone_set: bool
    push_subscribed: bool


def _account(session: Session, staff_id: int) -> StaffUser:
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_staff", "no such staff account")
    return staff


def escalation_channel(session: Session, staff_id: int) -> EscalationChannel:
    """A staffer's chosen channel for escalations."""
    staff = _account(session, staff_id)
    subscribed = session.scalar(
        select(StaffPushSubscription.id).where(StaffPushSubscription.staff_id == staff_id).limit(1)
    )
    return EscalationChannel(
        staff.escalation_channel, staff.escalation_phone is not None, subscribed is not None
    )


def set_escalation_channel(
    session: Session, staff_id: int, channel: Channel | None, phone: str | None
) -> EscalationChannel:
    """Choose the channel (None: the console only). SMS needs a phone number (given now or
    before); push needs a browser subscribed first; e-mail goes to the log-in address."""
    staff = _account(session, staff_id)
    if phone is not None:
        normalised = normalised_phone(phone)
        if normalised is None:
            raise invalid("phone", "a phone number with its country code, e.g. +44 7700 900123")
        staff.escalation_phone = normalised
    if channel == Channel.SMS and staff.escalation_phone is None:
        raise invalid("phone", "give a phone number for text messages")
    if channel == Channel.PUSH and not escalation_channel(session, staff_id).push_subscribed:
        raise invalid("channel", "allow notifications on this device first")
    if channel == Channel.APP:
        raise invalid("channel", "the console shows escalations already: choose push, sms or email")
    staff.escalation_channel = channel.value if channel is not None else ""
    session.flush()
    return escalation_channel(session, staff_id)


def subscribe_staff_push(
    session: Session, staff_id: int, endpoint: str, p256dh: str, auth: str, now: float
) -> None:
    """Keep a staffer's browser push subscription (upsert by endpoint; the browser moves to
    whoever subscribed it last)."""
    problems = subscription_problems(endpoint, p256dh, auth)
    if problems:
        raise DomainError(
            Refusal.INVALID, "invalid_body", "the request body is not valid", {"fields": problems}
        )
    row = session.scalar(
        select(StaffPushSubscription).where(StaffPushSubscription.endpoint == endpoint)
    )
    if row is None:
        session.add(
            StaffPushSubscription(
                staff_id=staff_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
            )
        )
    else:
        row.staff_id, row.p256dh, row.auth, row.created_at = staff_id, p256dh, auth, now
    session.flush()


def staff_of_store(session: Session, store_id: int, staff_id: int) -> StaffUser:
    """A staff or manager account assigned to this store (not found `unknown_staff`, also for
    another store's, and for an admin, whom only the chain's admins manage)."""
    user = session.scalar(
        select(StaffUser)
        .join(StaffStore, StaffStore.staff_id == StaffUser.id)
        .where(StaffUser.id == staff_id, StaffStore.store_id == store_id)
    )
    if user is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_staff", "no such staff account here")
    return user


def store_staff(session: Session, store_id: int) -> list[StaffUser]:
    """The accounts assigned to the store, active first, then by name."""
    return list(
        session.scalars(
            select(StaffUser)
            .join(StaffStore, StaffStore.staff_id == StaffUser.id)
            .where(StaffStore.store_id == store_id)
            .order_by(StaffUser.active.desc(), StaffUser.name, StaffUser.id)
        )
    )


def reset_password(session: Session, store_id: int, staff_id: int, password: str) -> StaffUser:
    """A manager gives an account of the store a new password; its sessions end."""
    user = staff_of_store(session, store_id, staff_id)
    user.password_hash = hash_password(checked_password(password))
    end_sessions(session, user.id)
    return user


def deactivate_in_store(
    session: Session, store_id: int, staff_id: int, by_staff_id: int
) -> StaffUser:
    """A manager stops an account of the store logging in (not their own: someone must stay
    able to manage the store)."""
    user = staff_of_store(session, store_id, staff_id)
    if user.id == by_staff_id:
        raise DomainError(
            Refusal.CONFLICT, "cannot_deactivate_self", "you cannot deactivate your own account"
        )
    user.active = False
    end_sessions(session, user.id)
    return user


def account_in_view(session: Session, by: StaffIdentity, store_id: int, staff_id: int) -> StaffUser:
    """An account `by` manages from this store: for an admin any account of her chain, for a
    manager one assigned to this store (not found `unknown_staff` otherwise, alike for another
    chain's account and for none)."""
    if by.role == StaffRole.ADMIN:
        user = session.get(StaffUser, staff_id)
        if user is not None and user.chain_id == by.chain_id:
            return user
        raise DomainError(Refusal.NOT_FOUND, "unknown_staff", "no such staff account here")
    return staff_of_store(session, store_id, staff_id)


@dataclass(frozen=True)
class AccessChange:
    """An account's new role and stores, and what it lost (whose sockets to cut off)."""

    user: StaffUser
    store_ids: tuple[int, ...]  # assigned now (none for an admin: her chain's are hers)
    removed_store_ids: frozenset[int]  # stores she could act at before and cannot now
    role_changed: bool


def change_access(
    session: Session,
    user: StaffUser,
    role: str,
    store_ids: Sequence[int],
    by: StaffIdentity | None,
) -> AccessChange:
    """Give an account of a chain this role at these stores (every store of the chain for an
    admin, who is given none), as `by` may (None: the operator, through the CLI).

    A manager changes only the stores she manages (stores of the account outside them stay)
    and never makes anyone an admin; an admin acts within her chain; nobody changes their own
    account (they could lock the store out). A store `by` may not manage is `403 forbidden`
    alike whether it exists or not; for the operator, a store of no or another chain is
    `unknown_store`. Invalid values name their field (`role`, `store_ids`).
    """
    if role not in tuple(StaffRole):
        raise invalid("role", f"role must be one of {', '.join(StaffRole)}")
    if by is not None and user.id == by.staff_id:
        raise DomainError(
            Refusal.CONFLICT, "cannot_change_self", "you cannot change your own role or stores"
        )
    if by is not None and by.role != StaffRole.ADMIN and StaffRole.ADMIN in (role, user.role):
        raise DomainError(
            Refusal.FORBIDDEN, "admins_only", "only an admin of the chain can do this"
        )
    wanted = list(dict.fromkeys(store_ids))
    if role == StaffRole.ADMIN and wanted:
        raise invalid("store_ids", "store: an admin acts at every store of her chain: give none")
    managed = _managed_by(session, by, user.chain_id)
    for store_id in wanted:
        if by is not None and store_id not in managed:
            raise DomainError(
                Refusal.FORBIDDEN,
                "forbidden",
                f"store: store {store_id} is not one you manage",
                {"field": "store_ids"},
            )
        if store_id not in managed:
            raise DomainError(
                Refusal.NOT_FOUND,
                "unknown_store",
                f"store: no store {store_id} in this account's chain",
                {"field": "store_ids"},
            )
    before = identity_of(session, user).store_ids
    current = set(
        session.scalars(select(StaffStore.store_id).where(StaffStore.staff_id == user.id))
    )
    kept = sorted(current - managed) if role != StaffRole.ADMIN else []
    assigned = [*wanted, *(store_id for store_id in kept if store_id not in wanted)]
    if role != StaffRole.ADMIN and not assigned:
        raise invalid("store_ids", "store: a staffer or manager needs at least one store")
    role_changed = user.role != role
    user.role = role
    session.execute(delete(StaffStore).where(StaffStore.staff_id == user.id))
    session.add_all(StaffStore(staff_id=user.id, store_id=store_id) for store_id in assigned)
    if role != StaffRole.ADMIN and user.store_id not in assigned:
        user.store_id = assigned[0]  # where her pages open: a store still hers
    session.flush()
    after = identity_of(session, user).store_ids
    return AccessChange(user, tuple(sorted(assigned)), frozenset(before - after), role_changed)


def _managed_by(session: Session, by: StaffIdentity | None, chain_id: int) -> set[int]:
    """The stores of this chain whose staff `by` manages (the operator: all of them)."""
    chain_stores = set(session.scalars(select(Store.id).where(Store.chain_id == chain_id)))
    if by is None:
        return chain_stores
    return {store_id for store_id in chain_stores if may_act(by, store_id, StaffRole.MANAGER)}


def assigned_store_ids(session: Session, staff_ids: Sequence[int]) -> dict[int, list[int]]:
    """The stores each of these accounts is assigned to (an admin: none), by id."""
    found: dict[int, list[int]] = {staff_id: [] for staff_id in staff_ids}
    rows = session.execute(
        select(StaffStore.staff_id, StaffStore.store_id)
        .where(StaffStore.staff_id.in_(list(staff_ids)))
        .order_by(StaffStore.staff_id, StaffStore.store_id)
    )
    for staff_id, store_id in rows:
        found[staff_id].append(store_id)
    return found

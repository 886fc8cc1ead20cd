"""Staff accounts: adding one, setting its password, deactivating it (its sessions end at once).

E-mail addresses are compared trimmed and lower-cased, as `auth.log_in` looks them up.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store_server.accounts.auth import hash_password
from store_server.accounts.stores import invalid, store_of
from store_server.db.database import rows_changed
from store_server.db.models import StaffSession, StaffUser
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import StaffRole

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
    session: Session, store_id: int, email: str, name: str, role: str, password: str
) -> StaffUser:
    """Add an active staff or manager account to a store (conflict `email_taken`)."""
    store_of(session, store_id)
    email = staff_email(email)
    name = name.strip()
    if not name or len(name) > MAX_STAFF_NAME:
        raise invalid("name", f"a name has 1 to {MAX_STAFF_NAME} characters")
    if role not in tuple(StaffRole):
        raise invalid("role", f"role must be one of {', '.join(StaffRole)}")
    checked_password(password)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        # The message does not repeat the address: it may end up in a log.
        raise DomainError(Refusal.CONFLICT, "email_taken", "a staff account has this e-mail")
    user = StaffUser(
        store_id=store_id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def staff_by_email(session: Session, email: str) -> StaffUser:
    """The staff account with this e-mail (not found `unknown_staff`)."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == staff_email(email)))
    if user is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_staff", "no staff account has this e-mail")
    return user


def end_sessions(session: Session, staff_id: int) -> int:
    """Log this staffer out everywhere; how many sessions ended."""
    return rows_changed(
        session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
    )


def set_password(session: Session, email: str, password: str) -> StaffUser:
    """Give an account a new password and end its sessions (whoever knew the old one is out)."""
    user = staff_by_email(session, email)
    user.password_hash = hash_password(checked_password(password))
    end_sessions(session, user.id)
    return user


def deactivate_staff(session: Session, email: str) -> StaffUser:
    """Stop an account logging in and end its sessions at once (its history stays)."""
    user = staff_by_email(session, email)
    user.active = False
    end_sessions(session, user.id)
    return user


def staff_of_store(session: Session, store_id: int, staff_id: int) -> StaffUser:
    """A staff account of this store (not found `unknown_staff`, also for another store's)."""
    user = session.get(StaffUser, staff_id)
    if user is None or user.store_id != store_id:
        raise DomainError(Refusal.NOT_FOUND, "unknown_staff", "no such staff account here")
    return user


def store_staff(session: Session, store_id: int) -> list[StaffUser]:
    """The store's accounts, active first, then by name."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.store_id == store_id)
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

"""Who is calling: the request's bearer token checked against staff sessions, shopper devices
and integration tokens (401 without valid credentials, 403 for a store not theirs).

`authorise` is the one check of a staffer's access to a store: every view calls it.
"""

from __future__ import annotations

from flask import request

from store_server.accounts.auth import (
    DeviceIdentity,
    StaffIdentity,
    device_for_token,
    integration_store,
    may_act,
    staff_for_token,
)
from store_server.vocabulary import StaffRole
from store_server.web.context import services
from store_server.web.errors import ApiError


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_device() -> DeviceIdentity:
    """The request's shopper device (401 without a valid device token)."""
    token = bearer_token(request.headers.get("Authorization"))
    device = device_for_token(services().db, token)
    if device is None:
        raise ApiError(401, "unauthorized", "this app is not registered (or was erased)")
    return device


def require_integration(store_id: int) -> None:
    """The request comes from a system the store registered (its order system)."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise ApiError(401, "unauthorized", "missing integration token")
    owner = integration_store(services().db, token)
    if owner is None:
        raise ApiError(401, "unauthorized", "unknown integration token")
    if owner != store_id:
        # The same answer whether or not that store exists: nothing is learnt by trying.
        raise ApiError(403, "forbidden", "this token is not for this store")


def authorise(store_id: int, role: StaffRole = StaffRole.STAFF) -> StaffIdentity:
    """The request's staffer, who may act at this store with at least this role.

    401 without a live session; 403 `forbidden` for a store that is not theirs, the same
    whether it is of their chain, of another chain or of none (existence is never told);
    403 `managers_only` for a staffer of the store asking for a manager's or admin's work.
    """
    token = bearer_token(request.headers.get("Authorization"))
    identity = staff_for_token(services().db, token, services().clock())
    if identity is None:
        raise ApiError(401, "unauthorized", "log in again: the session is missing or expired")
    if not may_act(identity, store_id):
        raise ApiError(403, "forbidden", "this account is not one of this store's")
    if not may_act(identity, store_id, role):
        if role == StaffRole.ADMIN:
            raise ApiError(403, "admins_only", "only an admin of the chain can do this")
        raise ApiError(403, "managers_only", "only a manager of this store can do this")
    return identity

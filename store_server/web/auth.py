"""Who is calling: the request's bearer token checked against staff sessions, shopper devices
and integration tokens (401 without valid credentials, 403 for another store)."""

from __future__ import annotations

from flask import request

from store_server.accounts.auth import (
    DeviceIdentity,
    StaffIdentity,
    device_for_token,
    integration_store,
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
        raise ApiError(403, "forbidden", "this token belongs to another store")


def require_staff(store_id: int | None = None) -> StaffIdentity:
    """The request's staffer (401 without a valid session; 403 for another store)."""
    token = bearer_token(request.headers.get("Authorization"))
    identity = staff_for_token(services().db, token, services().clock())
    if identity is None:
        raise ApiError(401, "unauthorized", "log in again: the session is missing or expired")
    if store_id is not None and identity.store_id != store_id:
        raise ApiError(403, "forbidden", "this account belongs to another store")
    return identity


def require_manager(store_id: int) -> StaffIdentity:
    """The request's staffer, who must be a manager of that store (403 `managers_only`)."""
    staff = require_staff(store_id)
    if staff.role != StaffRole.MANAGER:
        raise ApiError(403, "managers_only", "only a manager of this store can do this")
    return staff

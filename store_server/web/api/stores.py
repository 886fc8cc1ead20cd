"""`/api/v1/stores/<id>/{settings,staff}`: a manager sets the store's settings (time zone,
currency, escalation limits, offer rules, "reach a person") and manages its staff accounts."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from store_server.accounts import staff, stores
from store_server.db.models import StaffUser, Store
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import StaffRole
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.realtime import end_staff_connections, end_staff_store_connections
from store_server.web.schemas import parse_body
from store_server.web.schemas.stores import (
    PasswordIn,
    StaffAccessIn,
    StaffAccountIn,
    StaffAccountOut,
    StaffListOut,
    StoreSettingsIn,
    StoreSettingsOut,
)

bp = Blueprint("stores", __name__, url_prefix="/api/v1/stores")


def _field_error(exc: DomainError) -> Exception:
    """A value the domain refused, in the shape of the schema's field errors (the page shows
    it next to its field); any other refusal unchanged."""
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    if exc.refusal is not Refusal.INVALID or not isinstance(field, str):
        return exc
    details = {"fields": [{"loc": [field], "msg": exc.message}]}
    return ApiError(400, "invalid_body", "the request body is not valid", details)


def _settings_out(store: Store) -> StoreSettingsOut:
    return StoreSettingsOut.model_validate(store, from_attributes=True)


def _accounts_out(session: Session, users: list[StaffUser]) -> list[StaffAccountOut]:
    assigned = staff.assigned_store_ids(session, [user.id for user in users])
    return [
        StaffAccountOut(
            id=user.id,
            email=user.email,
            name=user.name,
            role=StaffRole(user.role),
            active=user.active,
            store_ids=assigned[user.id],
        )
        for user in users
    ]


def _account_out(session: Session, user: StaffUser) -> StaffAccountOut:
    return _accounts_out(session, [user])[0]


@bp.get("/<int:store_id>/settings")
@documented("The store's settings", answer=StoreSettingsOut, errors=(401, 403, 404))
def get_settings(store_id: int) -> tuple[Response, int]:
    """Time zone, currency, escalation limits, offer rules and "reach a person"."""
    authorise(store_id, StaffRole.MANAGER)
    with services().db.sessions() as session:
        out = _settings_out(stores.store_of(session, store_id))
    return jsonify(out.model_dump()), 200


@bp.put("/<int:store_id>/settings")
@documented(
    "Change the store's settings",
    body=StoreSettingsIn,
    answer=StoreSettingsOut,
    errors=(400, 401, 403, 404),
)
def put_settings(store_id: int) -> tuple[Response, int]:
    """Replace the store's settings; the offer rules apply to the next decision."""
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(StoreSettingsIn, request.get_json(silent=True))
    try:
        with services().db.transaction() as session:
            store = stores.update_store(
                session, store_id, stores.StoreSettingsChange(**body.model_dump())
            )
            out = _settings_out(store)
    except DomainError as exc:
        raise _field_error(exc) from exc
    return jsonify(out.model_dump()), 200


@bp.get("/<int:store_id>/staff")
@documented("The store's staff accounts", answer=StaffListOut, errors=(401, 403))
def list_staff(store_id: int) -> tuple[Response, int]:
    """Every account of the store, active first (no passwords)."""
    authorise(store_id, StaffRole.MANAGER)
    with services().db.sessions() as session:
        out = StaffListOut(staff=_accounts_out(session, staff.store_staff(session, store_id)))
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/staff")
@documented(
    "Add a staff, manager or (by an admin) admin account",
    body=StaffAccountIn,
    answer=StaffAccountOut,
    status=201,
    errors=(400, 401, 403, 409),
)
def add_staff(store_id: int) -> tuple[Response, int]:
    """A new active account at this store (conflict `email_taken`); only an admin adds an
    admin, of her own chain."""
    caller = authorise(store_id, StaffRole.MANAGER)
    body = parse_body(StaffAccountIn, request.get_json(silent=True))
    if body.role == StaffRole.ADMIN:
        authorise(store_id, StaffRole.ADMIN)
    try:
        with services().db.transaction() as session:
            user = staff.add_staff(
                session,
                [store_id],
                body.email,
                body.name,
                body.role,
                body.password,
                chain_id=caller.chain_id,
            )
            out = _account_out(session, user)
    except DomainError as exc:
        raise _field_error(exc) from exc
    return jsonify(out.model_dump()), 201


@bp.post("/<int:store_id>/staff/<int:staff_id>/password")
@documented(
    "Reset an account's password (its sessions end)",
    body=PasswordIn,
    answer=StaffAccountOut,
    errors=(400, 401, 403, 404),
)
def reset_password(store_id: int, staff_id: int) -> tuple[Response, int]:
    """Give the account a new password; whoever knew the old one is logged out."""
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(PasswordIn, request.get_json(silent=True))
    try:
        with services().db.transaction() as session:
            user = staff.reset_password(session, store_id, staff_id, body.password)
            out = _account_out(session, user)
    except DomainError as exc:
        raise _field_error(exc) from exc
    end_staff_connections(staff_id)
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/staff/<int:staff_id>/deactivate")
@documented(
    "Deactivate an account (its sessions end at once)",
    answer=StaffAccountOut,
    errors=(401, 403, 404, 409),
)
def deactivate(store_id: int, staff_id: int) -> tuple[Response, int]:
    """Stop the account logging in; its history stays (conflict for one's own account)."""
    manager = authorise(store_id, StaffRole.MANAGER)
    with services().db.transaction() as session:
        user = staff.deactivate_in_store(session, store_id, staff_id, manager.staff_id)
        out = _account_out(session, user)
    end_staff_connections(staff_id)
    return jsonify(out.model_dump()), 200


@bp.put("/<int:store_id>/staff/<int:staff_id>/access")
@documented(
    "Change an account's role and stores",
    body=StaffAccessIn,
    answer=StaffAccountOut,
    errors=(400, 401, 403, 404, 409),
)
def change_access(store_id: int, staff_id: int) -> tuple[Response, int]:
    """Give an account of this store (an admin: of her chain) a role and stores. A manager
    assigns only stores she manages and never makes an admin (403); another chain's account
    is 404 as one that does not exist; one's own account is 409. Her tablets and consoles
    connected for a store taken away are disconnected (all of them if the role changed)."""
    caller = authorise(store_id, StaffRole.MANAGER)
    body = parse_body(StaffAccessIn, request.get_json(silent=True))
    try:
        with services().db.transaction() as session:
            user = staff.account_in_view(session, caller, store_id, staff_id)
            change = staff.change_access(session, user, body.role, body.store_ids, caller)
            out = _account_out(session, change.user)
    except DomainError as exc:
        raise _field_error(exc) from exc
    if change.role_changed:
        end_staff_connections(staff_id)
    else:
        end_staff_store_connections(staff_id, sorted(change.removed_store_ids))
    return jsonify(out.model_dump()), 200

"""`/api/v1/auth`: staff log in for a bearer token and log out."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from store_server.accounts.auth import log_in, log_out
from store_server.problems import DomainError
from store_server.vocabulary import StaffRole
from store_server.web.auth import bearer_token
from store_server.web.context import services
from store_server.web.limits import (
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    account_key,
    client_address,
    limits,
)
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.auth import LoggedOutOut, LoginIn, LoginOut, StaffOut, StoreRef

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/login")
@documented(
    "Log a staffer in", body=LoginIn, answer=LoginOut, errors=(400, 401, 409, 429), public=True
)
def login() -> tuple[Response, int]:
    """Exchange e-mail and password for a bearer token (limited per address and, for wrong
    passwords, per account). `409 choose_chain` when the password opens accounts of this
    e-mail at several chains: `details.chains` lists them; send again with `chain_id`."""
    body = parse_body(LoginIn, request.get_json(silent=True))
    # Counted once the body is one: a malformed body costs no password check.
    limits().charge(LOGIN_PER_ADDRESS, "login-address", client_address())
    account = account_key(body.email)
    limits().refuse_if_over(LOGIN_FAILURES_PER_ACCOUNT, "login-account", account)
    settings = services().settings
    now = services().clock()
    try:
        with services().db.transaction() as session:
            done = log_in(
                session, body.email, body.password, now, settings.session_ttl_s, body.chain_id
            )
    except DomainError as exc:
        if exc.code == "invalid_credentials":  # a right password at several chains is no failure
            limits().failed(LOGIN_FAILURES_PER_ACCOUNT, "login-account", account)
        raise
    out = LoginOut(
        token=done.token,
        expires_at=done.expires_at,
        staff=StaffOut(
            id=done.staff_id,
            name=done.name,
            role=StaffRole(done.role),
            store_id=done.store_id,
            store_name=done.store_name,
            stores=[StoreRef(id=store_id, name=name) for store_id, name in done.stores],
        ),
    )
    return jsonify(out.model_dump()), 200


@bp.post("/logout")
# No credentials needed: the session presented, if any, ends; logging out twice is no error.
@documented("End the presented staff session", answer=LoggedOutOut, public=True)
def logout() -> tuple[Response, int]:
    """End the presented session."""
    token = bearer_token(request.headers.get("Authorization"))
    if token:
        with services().db.transaction() as session:
            log_out(session, token)
    return jsonify({"logged_out": True}), 200

"""One JSON error shape for every 4xx and 5xx: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from store_server.problems import DomainError, Refusal

log = logging.getLogger(__name__)
# What a 503 for an unreachable database suggests: a restart or failover takes seconds.
DATABASE_RETRY_AFTER_S = 5


class ApiError(Exception):
    """An error the client caused or must know about; becomes a JSON error response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


STATUS_OF = {
    Refusal.INVALID: 400,
    Refusal.UNAUTHORIZED: 401,
    Refusal.FORBIDDEN: 403,
    Refusal.NOT_FOUND: 404,
    Refusal.CONFLICT: 409,
    Refusal.GONE: 410,
    Refusal.TOO_MANY: 429,
    Refusal.UNAVAILABLE: 503,
}


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """The JSON error body every endpoint uses."""
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn ApiError, HTTP errors and anything unexpected into the one JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return error_response(STATUS_OF[exc.refusal], exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(status, code, exc.description or exc.name)
        # What the exception says besides its body: `Allow` on a 405, `Retry-After`.
        response.headers.update(
            (name, value) for name, value in exc.get_headers() if name.lower() != "content-type"
        )
        return response

    @app.errorhandler(IntegrityError)
    @app.errorhandler(StaleDataError)
    def _conflict(exc: IntegrityError | StaleDataError) -> Response:
        # A race the domain did not translate (two requests changing the same rows at once):
        # the transaction rolled back, so trying again is safe.
        log_database_error(exc)
        return error_response(409, "conflict", "the data changed while this request ran; try again")

    @app.errorhandler(DataError)
    def _invalid_value(exc: DataError) -> Response:
        # A value the schema let through but the database refused (out of range, bad text).
        log_database_error(exc)
        return error_response(400, "invalid_value", "a value is out of range for this field")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc: OperationalError | InterfaceError) -> Response:
        # The database does not answer (down, restarting, a network cut; SQLite locked past its
        # timeout): nothing was written, and the same request will work once it is back.
        log_database_error(exc)
        response = error_response(
            503, "database_unavailable", "the database does not answer; try again shortly"
        )
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("event=unhandled_error type=%s", type(exc).__name__)
        return error_response(500, "internal_error", "unexpected server error")


def log_database_error(exc: Exception) -> None:
    """Log a database error by type and where it arose, never its message.

    The message of a SQLAlchemy error carries the statement's parameters, which can be a
    shopper's e-mail or phone number; the traceback's frames carry only code.
    """
    cause = getattr(exc, "orig", None)
    frames = "".join(traceback.format_tb(exc.__traceback__)).replace("\n", " | ")
    log.warning(
        "event=database_error type=%s cause=%s at=%s",
        type(exc).__name__,
        type(cause).__name__ if cause is not None else "-",
        frames,
    )

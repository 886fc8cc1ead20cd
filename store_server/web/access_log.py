"""The access log: one line per request, naming the route, never a secret in its URL.

Some URLs carry a capability: an unsubscribe token (`/u/<token>`), a message id (`/api/v1/
messages/<message_id>/seen`), a coupon code (`/r/<code>`). The line shows the matched route
with only the arguments known to be harmless filled in (row ids, a gateway's id, a vendored
file's name); every other argument stays a placeholder, the query string is never logged, and
a path that matched no route is logged as `-` (it could hold anything).
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, g, request
from werkzeug.wrappers import Response

log = logging.getLogger("store_server.access")
# Arguments that name no person and grant nothing.
HARMLESS_ARGUMENTS = frozenset({"gateway_id", "name"})
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def logged_path() -> str:
    """The request's path as the access log shows it."""
    rule = request.url_rule
    if rule is None:
        return "-"
    arguments = request.view_args or {}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = arguments.get(name)
        if isinstance(value, int) or (name in HARMLESS_ARGUMENTS and value is not None):
            return str(value)
        return f"<{name}>"

    return _ARGUMENT.sub(fill, rule.rule)


def register_access_log(app: Flask) -> None:
    """Log every request once, after its answer."""

    @app.before_request
    def _started() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("request_started")
        elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        log.info(
            "event=request method=%s path=%s status=%d ms=%.1f",
            request.method,
            logged_path(),
            response.status_code,
            elapsed_ms,
        )
        return response

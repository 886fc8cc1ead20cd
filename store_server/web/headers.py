"""Security headers on every answer: what a browser may load, frame, send and keep.

The pages load only their own scripts and styles (no inline code, no CDN), show QR codes as
`data:` images and talk to this server over fetch and Socket.IO's WebSocket, so the policy
allows exactly that. Staff and device tokens live in the pages' localStorage: a script that
is not ours must never run, and no page may be framed by another site.
"""

from __future__ import annotations

from flask import Flask, Response, request


def content_security_policy(host: str) -> str:
    """The pages' CSP for a request to `host` (WebSocket URLs must name it: 'self' need not)."""
    return "; ".join(
        (
            "default-src 'self'",
            # WebAssembly compiled from our own files (the till's QR reader), never JS eval.
            "script-src 'self' 'wasm-unsafe-eval'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        )
    )


def add_security_headers(response: Response) -> Response:
    """An `after_request` hook: the headers above; `no-store` on every API answer."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    # API answers carry tokens (login, opt-in, a new gateway), personal data (profile, export)
    # or live state: no browser or proxy cache may keep any of them.
    if request.path.startswith("/api/") and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


def register_security_headers(app: Flask) -> None:
    """Add the headers to every response of `app`, errors included."""
    app.after_request(add_security_headers)

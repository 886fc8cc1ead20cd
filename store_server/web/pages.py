"""Web pages (the staff tablet), vendored browser libraries, health and the OpenAPI document."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from store_server.db.migrate import current_revision, head_revision
from store_server.engagement.coupons import normalise_code
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented, openapi_document
from store_server.web.schemas import JsonObjectOut

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)
# Browser libraries come from npm at set-up (package.json); the server serves the installed files.
# Browser libraries from npm, copied into the package by `make setup` (the wheel carries them).
# The BarcodeDetector ponyfill (a classic script, window.BarcodeDetectionAPI) loads its ZXing
# WebAssembly from here too, never from its default CDN.
VENDOR_DIR = Path(__file__).resolve().parent / "vendor"
VENDOR_FILES = frozenset({"socket.io.min.js", "barcode-detector.js", "zxing_reader.wasm"})


@bp.get("/")
def index() -> Response:
    """The staff tablet is the first page."""
    return redirect("/staff")


@bp.get("/staff")
def staff_tablet() -> str:
    """The staff tablet page: log in, then arrivals live."""
    return render_template("staff.html")


@bp.get("/console")
def manager_console() -> str:
    """The manager's console: campaigns, results, store layout, live presence and escalations."""
    return render_template("console.html")


@bp.get("/app")
def shopper_app() -> str:
    """The shopper's phone page (`?store=`): join, pickups, coupons, survey, privacy."""
    return render_template(
        "app.html",
        store_id=_store_param(),
        raw_retention_days=services().settings.raw_retention_days,
    )


@bp.get("/r/<code>")
def redemption_link(code: str) -> str:
    """Where a coupon's QR points: a shopper is told to show it at the till; a logged-in
    staffer of its store sees its state and redeems (or undoes) it there (the page asks the
    API; the page itself carries no data)."""
    return render_template("redeem.html", code=normalise_code(code))


@bp.get("/escalation")
def escalation_link() -> str:
    """Where a manager's escalation message leads: "I'll take it" (the signed token is in the
    URL's fragment, which no request carries; the page posts it)."""
    return render_template("escalation.html")


@bp.get("/sw.js")
def service_worker() -> Response:
    """The shopper page's service worker, from the root so its scope is the whole site."""
    response = send_from_directory(
        current_app.static_folder or "static", "sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"  # a new version takes over at once
    return response


@bp.get("/manifest.webmanifest")
def web_app_manifest() -> Response:
    """The shopper page's web app manifest (installable as an app); with `?store=`, the
    installed app opens that store's page."""
    path = Path(current_app.static_folder or "static", "manifest.webmanifest")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if (store_id := _store_param()) is not None:
        manifest["start_url"] = f"/app?store={store_id}"
    response = Response(json.dumps(manifest), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()  # "no-cache" revalidates: an unchanged manifest is a 304
    return response.make_conditional(request)


def _store_param() -> int | None:
    """The request's `?store=` (the shopper page's store), or None if absent or not an id."""
    store_id = request.args.get("store", type=int)
    return store_id if store_id is not None and store_id > 0 else None


@bp.get("/vendor/<name>")
def vendor(name: str) -> Response:
    """A browser library installed from npm and shipped in the package."""
    if name not in VENDOR_FILES:
        raise ApiError(404, "not_found", f"no vendored file {name!r}")
    path = VENDOR_DIR / name
    if not path.is_file():
        raise ApiError(404, "not_installed", f"web/vendor/{name} is missing: run `make setup`")
    mimetype = "application/wasm" if path.suffix == ".wasm" else None  # for streaming compile
    return send_from_directory(VENDOR_DIR, name, max_age=3600, mimetype=mimetype)


@bp.get("/healthz")
def health() -> tuple[Response, int]:
    """Liveness: the process answers. It reads no database, so an orchestrator does not kill
    a process whose database is restarting; whether it can serve is `/readyz`."""
    return jsonify({"status": "ok"}), 200


@bp.get("/readyz")
def ready() -> tuple[Response, int]:
    """Readiness: the database answers and its schema is at this code's migration head
    (an empty or older schema, after a restore or before `store-server migrate`, is not)."""
    head = head_revision()
    try:
        with services().db.engine.connect() as connection:
            revision = current_revision(connection)
    except SQLAlchemyError as exc:
        log.warning("event=not_ready reason=database_unreachable error=%s", type(exc).__name__)
        raise ApiError(503, "not_ready", "the database does not answer") from exc
    if revision != head:
        raise ApiError(
            503,
            "not_ready",
            "the database schema is not at this server's migration head",
            {"revision": revision, "head": head},
        )
    return jsonify({"status": "ready", "revision": revision}), 200


@bp.get("/api/v1/openapi.json")
@documented("This document", answer=JsonObjectOut, public=True)
def openapi() -> tuple[Response, int]:
    """The API's OpenAPI 3.1 document, built from the views' declared contracts."""
    return jsonify(openapi_document(current_app)), 200

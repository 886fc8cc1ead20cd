"""Web pages (the staff tablet), vendored browser libraries, health and the OpenAPI document."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from pydantic import BaseModel
from sqlalchemy import text
from werkzeug.wrappers import Response

from store_server.engagement.coupons import normalise_code
from store_server.web import schemas
from store_server.web.context import services
from store_server.web.errors import ApiError

bp = Blueprint("pages", __name__)
# Browser libraries come from npm at set-up (package.json); the server serves the installed files.
VENDOR_FILES = {"socket.io.min.js": "socket.io-client/dist/socket.io.min.js"}


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
    return render_template("app.html", store_id=_store_param())


@bp.get("/r/<code>")
def redemption_link(code: str) -> str:
    """Where a coupon's QR points: tells whoever opens it to show it at the till (no data)."""
    return render_template("redeem.html", code=normalise_code(code))


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
    """A browser library installed from npm."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        raise ApiError(404, "not_found", f"no vendored file {name!r}")
    path = Path(services().settings.vendor_dir) / relative
    if not path.is_file():
        raise ApiError(404, "not_installed", f"{relative} is missing: run `make setup`")
    return send_from_directory(path.parent, path.name, max_age=3600)


@bp.get("/healthz")
def health() -> tuple[Response, int]:
    """Liveness and database reachability."""
    with services().db.sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"}), 200


@bp.get("/api/v1/openapi.json")
def openapi() -> tuple[Response, int]:
    """The API's OpenAPI 3.1 document, generated from the pydantic models."""
    return jsonify(openapi_document()), 200


@dataclass(frozen=True)
class Route:
    """One documented API operation."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    status: int
    answer: type[BaseModel] | None
    errors: tuple[int, ...]
    public: bool = False


GATEWAY_ERRORS = (400, 401, 404)
STRING_PARAMS = {"gateway_id", "external_id", "message_id"}
ROUTES = [
    Route(
        "post",
        "/api/v1/gateways/{gateway_id}/batches",
        "Upload a gateway's batch of observations (docs/protocol.md)",
        schemas.BatchIn,
        202,
        schemas.BatchAccepted,
        (*GATEWAY_ERRORS, 409, 413),
    ),
    Route(
        "get",
        "/api/v1/gateways/{gateway_id}/config",
        "The store's registered beacons and tags",
        None,
        200,
        schemas.GatewayConfigOut,
        (401, 404),
    ),
    Route(
        "post",
        "/api/v1/gateways/{gateway_id}/heartbeat",
        "A gateway's health report",
        schemas.HeartbeatIn,
        202,
        None,
        GATEWAY_ERRORS,
    ),
    Route(
        "post",
        "/api/v1/auth/login",
        "Log a staffer in",
        schemas.LoginIn,
        200,
        schemas.LoginOut,
        (400, 401),
        public=True,
    ),
    Route("post", "/api/v1/auth/logout", "End the presented staff session", None, 200, None, ()),
    Route(
        "get",
        "/api/v1/stores/{store_id}/arrivals",
        "Open pickup arrivals of a store",
        None,
        200,
        schemas.ArrivalsOut,
        (401, 403),
    ),
    Route(
        "put",
        "/api/v1/stores/{store_id}/orders/{external_id}",
        "Create or update a pickup order (the store's order system; idempotent)",
        schemas.OrderIn,
        200,
        schemas.OrderOut,
        (400, 401, 403, 409),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/alerts/{alert_id}/acknowledge",
        "A staffer is on the way (first wins; 409 names who did)",
        None,
        200,
        schemas.ArrivalOut,
        (401, 403, 404, 409),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/alerts/{alert_id}/handover",
        "Hand the order over (optionally recording an exchange or return)",
        schemas.HandoverIn,
        200,
        schemas.ArrivalOut,
        (400, 401, 403, 404, 409),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/orders/{order_id}/exchanges",
        "Record an exchange or return against an order",
        schemas.ExchangeIn,
        201,
        None,
        (400, 401, 403, 404, 409),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/redemptions",
        "Redeem a coupon code at the till (exactly once, never after expiry)",
        schemas.RedeemIn,
        200,
        schemas.RedemptionOut,
        (400, 401, 403, 404, 409, 410, 429),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/campaigns",
        "Create a campaign with its first version (managers)",
        schemas.CampaignIn,
        201,
        schemas.CampaignOut,
        (400, 401, 403),
    ),
    Route(
        "get",
        "/api/v1/stores/{store_id}/campaigns",
        "The store's campaigns with their current versions (managers)",
        None,
        200,
        schemas.CampaignsOut,
        (401, 403),
    ),
    Route(
        "put",
        "/api/v1/stores/{store_id}/campaigns/{campaign_id}",
        "Edit a campaign: a new version; issued coupons keep theirs (managers)",
        schemas.CampaignIn,
        200,
        schemas.CampaignOut,
        (400, 401, 403, 404, 409),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/campaigns/{campaign_id}/pause",
        "Pause a campaign (managers)",
        None,
        200,
        schemas.CampaignOut,
        (401, 403, 404),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/campaigns/{campaign_id}/resume",
        "Resume a paused campaign (managers)",
        None,
        200,
        schemas.CampaignOut,
        (401, 403, 404),
    ),
    Route(
        "post",
        "/api/v1/me/checkin",
        'The shopper says "I\'m here" (optionally at a bay)',
        schemas.CheckinIn,
        200,
        None,
        (400, 401, 403),
    ),
    Route(
        "get",
        "/api/v1/stores/{store_id}/info",
        "A store's name and curbside bays",
        None,
        200,
        None,
        (404,),
        public=True,
    ),
    Route(
        "post",
        "/api/v1/optin",
        "Join a store's app with explicit consents",
        schemas.OptInIn,
        201,
        schemas.OptInOut,
        (400, 404, 409),
        public=True,
    ),
    Route(
        "get",
        "/api/v1/stores/{store_id}/report",
        "Managers: campaigns (funnel, lift), pickups, care score, beacon and gateway health",
        None,
        200,
        None,
        (401, 403),
    ),
    Route(
        "get",
        "/api/v1/stores/{store_id}/layout",
        "The store's zones, gateways (place, calibration, health) and beacons (managers)",
        None,
        200,
        schemas.LayoutOut,
        (401, 403),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/zones",
        "Add a zone; names are unique in a store (managers)",
        schemas.ZoneIn,
        201,
        schemas.ZoneOut,
        (400, 401, 403, 409),
    ),
    Route(
        "put",
        "/api/v1/stores/{store_id}/zones/{zone_id}",
        "Edit a zone; lists campaigns still naming its old name (managers)",
        schemas.ZoneIn,
        200,
        schemas.ZoneChangeOut,
        (400, 401, 403, 404, 409),
    ),
    Route(
        "delete",
        "/api/v1/stores/{store_id}/zones/{zone_id}",
        "Delete a zone; what was placed there loses its zone (managers)",
        None,
        200,
        schemas.ZoneChangeOut,
        (401, 403, 404),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/gateways",
        "Register a gateway; its token is in this answer only (managers)",
        schemas.GatewayRegisterIn,
        201,
        schemas.GatewayRegisteredOut,
        (400, 401, 403, 409),
    ),
    Route(
        "put",
        "/api/v1/stores/{store_id}/gateways/{gateway_id}",
        "Set a gateway's zone and calibration offset (managers)",
        schemas.GatewayPlaceIn,
        200,
        schemas.GatewayOut,
        (400, 401, 403, 404),
    ),
    Route(
        "post",
        "/api/v1/stores/{store_id}/beacons",
        "Register a fixed beacon by its registered id (managers)",
        schemas.BeaconIn,
        201,
        schemas.BeaconOut,
        (400, 401, 403, 409),
    ),
    Route(
        "put",
        "/api/v1/stores/{store_id}/beacons/{beacon_id}",
        "Move a beacon to another zone (managers)",
        schemas.BeaconPlaceIn,
        200,
        schemas.BeaconOut,
        (400, 401, 403, 404),
    ),
    Route(
        "delete",
        "/api/v1/stores/{store_id}/beacons/{beacon_id}",
        "Forget a beacon (managers)",
        None,
        200,
        None,
        (401, 403, 404),
    ),
    Route("get", "/api/v1/me", "What the store knows of me", None, 200, schemas.ProfileOut, (401,)),
    Route(
        "put",
        "/api/v1/me/consents",
        "Set my consents for one store",
        schemas.ConsentsIn,
        200,
        None,
        (400, 401),
    ),
    Route(
        "post",
        "/api/v1/me/pause",
        "Pause arrival detection for a while",
        schemas.PauseIn,
        200,
        None,
        (400, 401),
    ),
    Route(
        "get",
        "/api/v1/me/export",
        "Download everything that names me (JSON)",
        None,
        200,
        None,
        (401,),
    ),
    Route("delete", "/api/v1/me", "Erase everything that names me", None, 200, None, (401,)),
    Route(
        "post",
        "/api/v1/me/sightings",
        "Store beacons the app heard (fused with gateways)",
        schemas.SightingsIn,
        200,
        None,
        (400, 401, 403),
    ),
    Route(
        "post",
        "/api/v1/me/tags",
        "Register a key-fob or car tag",
        schemas.TagIn,
        201,
        schemas.TagOut,
        (400, 401, 409),
    ),
    Route("delete", "/api/v1/me/tags/{tag_id}", "Forget a tag", None, 200, None, (401, 404)),
    Route(
        "get",
        "/api/v1/me/pickups",
        "The shopper's open pickup orders",
        None,
        200,
        schemas.PickupsOut,
        (401,),
    ),
    Route(
        "get", "/api/v1/me/coupons", "The shopper's coupons", None, 200, schemas.CouponsOut, (401,)
    ),
    Route(
        "get",
        "/api/v1/push/key",
        "The VAPID public key to subscribe to Web Push with",
        None,
        200,
        schemas.PushKeyOut,
        (503,),
        public=True,
    ),
    Route(
        "post",
        "/api/v1/me/push-subscriptions",
        "Store this browser's Web Push subscription (upsert by endpoint; 200 if it existed)",
        schemas.PushSubscriptionIn,
        201,
        schemas.PushSubscribedOut,
        (400, 401),
    ),
    Route(
        "delete",
        "/api/v1/me/push-subscriptions",
        "Forget a Web Push subscription (idempotent)",
        schemas.PushUnsubscribeIn,
        200,
        None,
        (400, 401),
    ),
    Route(
        "post",
        "/api/v1/messages/{message_id}/seen",
        "Record that a message was shown (no login: the random message id is the capability)",
        None,
        200,
        None,
        (404,),
        public=True,
    ),
    Route(
        "post",
        "/api/v1/sms/inbound",
        "The SMS provider's inbound webhook: STOP/START/HELP (form fields, X-Twilio-Signature); "
        "answers TwiML",
        None,
        200,
        None,
        (403, 404),
        public=True,
    ),
    Route(
        "put",
        "/api/v1/stores/{store_id}/customers/attributes",
        "Set a customer's profile attributes, named by e-mail, for campaign audiences",
        schemas.CustomerAttributesIn,
        200,
        None,
        (400, 401),
    ),
    Route(
        "post",
        "/api/v1/me/surveys/{survey_id}",
        "Answer the one-question survey",
        schemas.SurveyAnswerIn,
        200,
        None,
        (400, 401, 404, 409),
    ),
]


def openapi_document() -> dict[str, Any]:
    """Build the OpenAPI document from the same models that validate requests."""
    models = {m for r in ROUTES for m in (r.body, r.answer) if m is not None} | {schemas.ErrorOut}
    components: dict[str, Any] = {}
    for model in sorted(models, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema

    def content(model: type[BaseModel]) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        return {"content": {"application/json": {"schema": ref}}}

    paths: dict[str, Any] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {"summary": route.summary}
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string" if name in STRING_PARAMS else "integer"},
            }
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        if parameters:
            operation["parameters"] = parameters
        if route.public:
            operation["security"] = []
        if route.body is not None:
            operation["requestBody"] = {"required": True, **content(route.body)}
        answer = {"description": "success", **(content(route.answer) if route.answer else {})}
        operation["responses"] = {
            str(route.status): answer,
            **{
                str(code): {"description": "error", **content(schemas.ErrorOut)}
                for code in route.errors
            },
        }
        paths.setdefault(route.path, {})[route.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Store server API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }

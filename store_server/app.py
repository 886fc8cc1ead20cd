"""The application factory: the one place that wires settings, database, blueprints, Socket.IO."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from store_server.db.database import Database
from store_server.logs import configure_logging
from store_server.messaging.channels.router import Router
from store_server.messaging.outbound import Outbound, Reach, build_senders
from store_server.presence.ingest import database_resolver
from store_server.presence.visits import FusionStates
from store_server.services import WALL_CLOCK, Clock, Services
from store_server.settings import StoreSettings
from store_server.web import metrics, pages
from store_server.web.access_log import register_access_log
from store_server.web.api import (
    auth,
    campaigns,
    escalations,
    gateways,
    help_requests,
    inbound,
    integrations,
    layout,
    me,
    pickup,
    public,
    redemptions,
    report,
    stores,
)
from store_server.web.context import EXTENSION as SERVICES_EXTENSION
from store_server.web.converters import use_row_id_converter
from store_server.web.errors import register_error_handlers
from store_server.web.headers import register_security_headers
from store_server.web.input_limits import StrictJSONProvider, refuse_hostile_input
from store_server.web.limits import init_limits
from store_server.web.realtime import connections, init_realtime


def create_app(settings: StoreSettings | None = None, clock: Clock = WALL_CLOCK) -> Flask:
    """Build a store server app; the schema must already be migrated (`store-server migrate`).

    Args:
        clock: the server's one wall clock (UNIX seconds); tests pass one they can set.
    """
    settings = settings or StoreSettings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    register_access_log(app)  # first, so it times the hooks that refuse hostile input too
    # An API client gets a JSON 404 for `a//b`, not an HTML redirect to `a/b`.
    app.url_map.merge_slashes = False
    # Hostile input is refused before any view runs (docs/protocol.md, "Limits"): path ids
    # within the columns' range, strict JSON bodies, no NUL character anywhere.
    use_row_id_converter(app.url_map)
    app.json = StrictJSONProvider(app)
    app.before_request(refuse_hostile_input)
    db = Database(settings.database_url)
    register_error_handlers(app)
    register_security_headers(app)
    blueprints = (
        auth.bp,
        gateways.bp,
        integrations.bp,
        pickup.bp,
        help_requests.bp,
        redemptions.bp,
        escalations.bp,
        campaigns.bp,
        me.bp,
        public.bp,
        report.bp,
        layout.bp,
        stores.bp,
        inbound.bp,
        pages.bp,
        metrics.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    publisher = init_realtime(app, settings)
    if settings.trusted_proxies:
        # Outside Socket.IO's middleware, so WebSocket handshakes see the client's address too.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    init_limits(app, settings)
    senders = build_senders(settings, publisher.publish, connections.is_connected, clock)
    reach = Reach(frozenset(s.channel for s in senders), settings.base_url)
    app.extensions[SERVICES_EXTENSION] = Services(
        settings=settings,
        db=db,
        clock=clock,
        resolver=database_resolver(db),
        fusion_states=FusionStates(),
        outbound=Outbound(Router(senders), reach, db, clock),
        publisher=publisher,
    )
    return app


def create_served_app(settings: StoreSettings | None = None) -> Flask:
    """`create_app`, plus this process's presence clock, and the sweep where
    `STORE_RUN_SCHEDULER=1`."""
    from store_server.sweep import start_scheduler

    app = create_app(settings)
    found: Services = app.extensions[SERVICES_EXTENSION]
    start_scheduler(found, run_sweep=found.settings.run_scheduler)
    return app

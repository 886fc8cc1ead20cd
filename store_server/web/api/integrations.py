"""The store order system's API: pickup orders (idempotent upsert) and customer attributes."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from store_server.db.models import PickupOrder
from store_server.pickup.matching import OPEN_ORDER_STATUSES, claim_token
from store_server.pickup.orders import OrderIn, set_customer_attributes, upsert_order
from store_server.web.auth import require_integration
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.integrations import AttributesSetOut, CustomerAttributesIn, OrderOut

bp = Blueprint("orders", __name__, url_prefix="/api/v1/stores")


def claim_url(order: PickupOrder) -> str | None:
    """The order's claim link (the token in the fragment, which no server log sees)."""
    if order.status not in OPEN_ORDER_STATUSES or order.claim_expires_at is None:
        return None
    secret = services().settings.secret_key.encode()
    token = claim_token(secret, order.store_id, order.id, order.claim_expires_at)
    base = services().settings.public_url.rstrip("/") or request.url_root.rstrip("/")
    return f"{base}/app?store={order.store_id}#claim={token}"


def order_out(order: PickupOrder) -> OrderOut:
    """An order without any customer detail, with its claim link."""
    return OrderOut(
        id=order.id,
        store_id=order.store_id,
        external_id=order.external_id,
        number=order.number,
        status=order.status,
        items=order.items,
        matched_to_shopper=order.shopper_id is not None,
        pickup_from=order.pickup_from,
        pickup_until=order.pickup_until,
        claim_url=claim_url(order),
    )


@bp.put("/<int:store_id>/orders/<external_id>")
@documented(
    "Create or update a pickup order (the store's order system; idempotent)",
    body=OrderIn,
    answer=OrderOut,
    also=(201,),  # created
    errors=(400, 401, 403, 409),
    caller="integration",
)
def put_order(store_id: int, external_id: str) -> tuple[Response, int]:
    """Create or replace an order; sending the same order twice changes nothing."""
    require_integration(store_id)
    if not 1 <= len(external_id) <= 64:
        raise ApiError(400, "invalid_external_id", "the order id must be 1 to 64 characters")
    body = parse_body(OrderIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        order, created = upsert_order(
            session,
            store_id,
            external_id,
            body,
            services().clock(),
            services().settings.claim_link_valid_s,
        )
        session.flush()
        out = order_out(order)
    return jsonify(out.model_dump()), 201 if created else 200


@bp.put("/<int:store_id>/customers/attributes")
@documented(
    "Set a customer's profile attributes, named by e-mail, for campaign audiences",
    body=CustomerAttributesIn,
    answer=AttributesSetOut,
    errors=(400, 401),
    caller="integration",
)
def put_customer_attributes(store_id: int) -> tuple[Response, int]:
    """Set the profile attributes campaign audiences filter on (e.g. a loyalty tier).

    Like orders, the customer is named by e-mail, which finds a shopper who joined this store
    and is never stored; for anyone else (unknown, or only another store's) nothing is kept
    and `matched` is false.
    """
    require_integration(store_id)
    body = parse_body(CustomerAttributesIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        matched = set_customer_attributes(
            session, store_id, body.customer_email, dict(body.attributes)
        )
    return jsonify({"matched": matched}), 200

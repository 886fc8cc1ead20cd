"""Pickup orders pushed by the store's order system (idempotent upsert) or imported from CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.models import PickupOrder, Shopper
from store_server.pickup.lifecycle import merged_order_status
from store_server.web.auth import require_integration
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import CustomerAttributesIn, OrderIn, OrderOut, parse_body

bp = Blueprint("orders", __name__, url_prefix="/api/v1/stores")
CSV_COLUMNS = (
    "external_id",
    "number",
    "status",
    "customer_email",
    "item_sku",
    "item_name",
    "item_qty",
)


def order_out(order: PickupOrder) -> OrderOut:
    """An order without any customer detail."""
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
    )


def upsert_order(
    session: Session, store_id: int, external_id: str, body: OrderIn, now: float
) -> tuple[PickupOrder, bool]:
    """Create or update an order by its external id; True when it was created.

    The customer's e-mail only finds an opted-in shopper; it is never stored.
    """
    shopper_id = None
    if body.customer_email:
        shopper_id = session.scalar(
            select(Shopper.id).where(Shopper.email == body.customer_email.strip().lower())
        )
    items = [item.model_dump(exclude_none=True) for item in body.items]
    for _attempt in range(2):  # a concurrent create turns the second try into an update
        order = session.scalars(
            select(PickupOrder).where(
                PickupOrder.store_id == store_id, PickupOrder.external_id == external_id
            )
        ).first()
        if order is not None:
            order.number, order.items = body.number, items
            order.status = merged_order_status(order.status, body.status)
            order.shopper_id = shopper_id if shopper_id is not None else order.shopper_id
            order.pickup_from, order.pickup_until = body.pickup_from, body.pickup_until
            order.updated_at = now
            return order, False
        order = PickupOrder(
            store_id=store_id,
            shopper_id=shopper_id,
            external_id=external_id,
            number=body.number,
            status=body.status,
            items=items,
            updated_at=now,
            pickup_from=body.pickup_from,
            pickup_until=body.pickup_until,
        )
        try:
            with session.begin_nested():
                session.add(order)
            return order, True
        except IntegrityError:
            continue
    raise ApiError(409, "conflict", "the order changed concurrently; send it again")


@bp.put("/<int:store_id>/orders/<external_id>")
@documented(
    "Create or update a pickup order (the store's order system; idempotent)",
    body=OrderIn,
    answer=OrderOut,
    errors=(400, 401, 403, 409),
)
def put_order(store_id: int, external_id: str) -> tuple[Response, int]:
    """Create or replace an order; sending the same order twice changes nothing."""
    require_integration(store_id)
    if not 1 <= len(external_id) <= 64:
        raise ApiError(400, "invalid_external_id", "the order id must be 1 to 64 characters")
    body = parse_body(OrderIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        order, created = upsert_order(session, store_id, external_id, body, services().clock())
        session.flush()
        out = order_out(order)
    return jsonify(out.model_dump()), 201 if created else 200


@bp.put("/<int:store_id>/customers/attributes")
@documented(
    "Set a customer's profile attributes, named by e-mail, for campaign audiences",
    body=CustomerAttributesIn,
    errors=(400, 401),
)
def put_customer_attributes(store_id: int) -> tuple[Response, int]:
    """Set the profile attributes campaign audiences filter on (e.g. a loyalty tier).

    Like orders, the customer is named by e-mail, which finds an opted-in shopper and is never
    stored; for anyone else nothing is kept and `matched` is false.
    """
    require_integration(store_id)
    body = parse_body(CustomerAttributesIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        shopper = session.scalars(
            select(Shopper).where(Shopper.email == body.customer_email.strip().lower())
        ).first()
        if shopper is not None:
            shopper.attributes = dict(body.attributes)
    return jsonify({"matched": shopper is not None}), 200


@dataclass(frozen=True)
class CsvImport:
    """What a CSV import did."""

    created: int
    updated: int
    errors: list[str]


def import_orders_csv(session: Session, store_id: int, stream: TextIO, now: float) -> CsvImport:
    """Import orders from CSV, one row per item (columns: CSV_COLUMNS); all or nothing."""
    reader = csv.DictReader(stream)
    missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        return CsvImport(0, 0, [f"missing columns: {', '.join(sorted(missing))}"])
    headers: dict[str, dict[str, str | None]] = {}
    items: dict[str, list[dict[str, str | None]]] = {}
    errors: list[str] = []
    for line, row in enumerate(reader, start=2):
        key = (row.get("external_id") or "").strip()
        if not key:
            errors.append(f"line {line}: external_id is empty")
            continue
        headers.setdefault(
            key,
            {
                "number": row["number"],
                "status": row["status"],
                "customer_email": row["customer_email"] or None,
            },
        )
        items.setdefault(key, []).append(
            {"sku": row["item_sku"] or None, "name": row["item_name"], "qty": row["item_qty"]}
        )
    bodies: list[tuple[str, OrderIn]] = []
    for key, header in headers.items():
        try:
            bodies.append((key, OrderIn.model_validate({**header, "items": items[key]})))
        except ValidationError as exc:
            errors.extend(f"order {key}: {e['loc']}: {e['msg']}" for e in exc.errors())
    if errors:
        return CsvImport(0, 0, errors)
    created = sum(upsert_order(session, store_id, key, body, now)[1] for key, body in bodies)
    return CsvImport(created, len(bodies) - created, [])


def describe(result: CsvImport) -> Iterable[str]:
    """Lines for a person reading the import's outcome."""
    if result.errors:
        yield "nothing imported:"
        yield from (f"  {e}" for e in result.errors)
    else:
        yield f"{result.created} orders created, {result.updated} updated"

"""Pickup orders pushed by the store's order system (idempotent upsert) or imported from CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.models import Consent, PickupOrder, Shopper
from store_server.pickup.lifecycle import merged_order_status
from store_server.pickup.matching import (
    OPEN_ORDER_STATUSES,
    CustomerIdentifiers,
    forget_customer,
    normalised_email,
    normalised_phone,
    shopper_for_order,
)
from store_server.problems import DomainError, Refusal
from store_server.settings import DEFAULT_CLAIM_LINK_VALID_S

CSV_COLUMNS = (
    "external_id",
    "number",
    "status",
    "customer_email",
    "item_sku",
    "item_name",
    "item_qty",
)


class ItemIn(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, Field(max_length=64)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    qty: Annotated[int, Field(ge=1, le=10_000)] = 1


class OrderIn(BaseModel):
    """A pickup order as the store's order system sends it (upsert by external id)."""

    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, Field(min_length=1, max_length=32)]
    status: Literal["placed", "ready", "cancelled", "handed_over"]
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=200)]
    # Surrounding blanks are trimmed before matching (as are capitals), not refused.
    customer_email: (
        Annotated[str, Field(max_length=254, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$")] | None
    ) = None
    customer_phone: (
        Annotated[
            str,
            Field(
                max_length=32,
                description="international format; spaces, dots, dashes and brackets are fine",
            ),
        ]
        | None
    ) = None
    pickup_from: Annotated[float, Field(gt=0)] | None = None
    pickup_until: Annotated[float, Field(gt=0)] | None = None

    @field_validator("customer_phone")
    @classmethod
    def _international_phone(cls, value: str | None) -> str | None:
        if value is not None and normalised_phone(value) is None:
            raise ValueError("not an international phone number (e.g. +44 7700 900123)")
        return value

    def customer(self) -> CustomerIdentifiers:
        """The customer's e-mail and phone, normalised."""
        return CustomerIdentifiers(
            normalised_email(self.customer_email) if self.customer_email else None,
            normalised_phone(self.customer_phone) if self.customer_phone else None,
        )


def upsert_order(
    session: Session,
    store_id: int,
    external_id: str,
    body: OrderIn,
    now: float,
    claim_link_valid_s: float,
) -> tuple[PickupOrder, bool]:
    """Create or update an order by its external id; True when it was created.

    The customer's e-mail or phone finds a shopper allowing arrival alerts at this store
    (pickup/matching.py); neither is stored. An unmatched open order keeps their digests, so
    the shopper is matched when she joins. A claimed order stays with whoever claimed it.
    """
    customer = body.customer()
    shopper_id = shopper_for_order(session, store_id, customer)
    email_digest, phone_digest = customer.digests()
    items = [item.model_dump(exclude_none=True) for item in body.items]
    for _attempt in range(2):  # a concurrent create turns the second try into an update
        order = session.scalars(
            select(PickupOrder).where(
                PickupOrder.store_id == store_id, PickupOrder.external_id == external_id
            )
        ).first()
        if order is not None:
            order.number, order.items = body.number, items
            status = merged_order_status(order.status, body.status)
            if status != order.status:
                order.status, order.claim_expires_at = status, now + claim_link_valid_s
            if shopper_id is not None and order.claimed_at is None:
                order.shopper_id = shopper_id
            order.pickup_from, order.pickup_until = body.pickup_from, body.pickup_until
            order.updated_at = now
            _keep_digests_while_waiting(order, email_digest, phone_digest)
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
            claim_expires_at=now + claim_link_valid_s,
        )
        _keep_digests_while_waiting(order, email_digest, phone_digest)
        try:
            with session.begin_nested():
                session.add(order)
            return order, True
        except IntegrityError:
            continue
    raise DomainError(Refusal.CONFLICT, "conflict", "the order changed concurrently; send it again")


def _keep_digests_while_waiting(
    order: PickupOrder, email_digest: str | None, phone_digest: str | None
) -> None:
    if order.shopper_id is None and order.status in OPEN_ORDER_STATUSES:
        order.customer_email_sha256, order.customer_phone_sha256 = email_digest, phone_digest
    else:
        forget_customer(order)


def set_customer_attributes(
    session: Session, store_id: int, email: str, attributes: dict[str, Any]
) -> bool:
    """Set the profile attributes of this store's shopper with this e-mail; whether there is one.

    Only a shopper consented at this store is a candidate: one who joined only another store is
    neither changed nor reported, exactly as for an unknown address. The e-mail is never stored.
    """
    shopper = session.scalars(
        select(Shopper)
        .join(Consent, Consent.shopper_id == Shopper.id)
        .where(Consent.store_id == store_id, Shopper.email == normalised_email(email))
        .limit(1)
    ).first()
    if shopper is not None:
        shopper.attributes = dict(attributes)
    return shopper is not None


@dataclass(frozen=True)
class CsvImport:
    """What a CSV import did."""

    created: int
    updated: int
    errors: list[str]


def import_orders_csv(
    session: Session,
    store_id: int,
    stream: TextIO,
    now: float,
    claim_link_valid_s: float = DEFAULT_CLAIM_LINK_VALID_S,
) -> CsvImport:
    """Import orders from CSV, one row per item (columns: CSV_COLUMNS, and optionally
    `customer_phone`); all or nothing."""
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
                "customer_phone": row.get("customer_phone") or None,
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
    created = sum(
        upsert_order(session, store_id, key, body, now, claim_link_valid_s)[1]
        for key, body in bodies
    )
    return CsvImport(created, len(bodies) - created, [])


def describe(result: CsvImport) -> Iterable[str]:
    """Lines for a person reading the import's outcome."""
    if result.errors:
        yield "nothing imported:"
        yield from (f"  {e}" for e in result.errors)
    else:
        yield f"{result.created} orders created, {result.updated} updated"

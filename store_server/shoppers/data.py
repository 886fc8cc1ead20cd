"""A shopper's own data: everything that names them, to download or to erase."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from store_server.db.models import Base, Observation, Shopper
from store_server.pickup.matching import normalised_email, normalised_phone
from store_server.presence.readings import forget_shopper_readings
from store_server.problems import DomainError, Refusal


def shopper_export(session: Session, shopper_id: int) -> dict[str, Any]:
    """Every row naming the shopper, table by table (keys and token digests left out)."""
    left_out = {"identity_key", "token_sha256"}
    document: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        if "shopper_id" not in table.c and table.name != "shoppers":
            continue
        column = table.c.id if table.name == "shoppers" else table.c.shopper_id
        rows = session.execute(select(table).where(column == shopper_id)).mappings().all()
        document[table.name] = [{k: v for k, v in row.items() if k not in left_out} for row in rows]
    for shopper in document.get("shoppers", []):
        # Her unconfirmed address is shown as the one she gave: nothing says another has it.
        unconfirmed = shopper.pop("unconfirmed_email", None)
        shopper["email"] = shopper["email"] or unconfirmed
    device_ids = [d["id"] for d in document.get("devices", [])]
    tag_ids = [t["id"] for t in document.get("customer_tags", [])]
    sightings = session.execute(
        select(Observation.gateway_id, Observation.rssi, Observation.seen_at)
        .where(Observation.device_id.in_(device_ids) | Observation.tag_id.in_(tag_ids))
        .order_by(Observation.seen_at)
    ).all()
    document["observations"] = [{"gateway_id": g, "rssi": r, "seen_at": t} for g, r, t in sightings]
    return document


def erase_shopper(session: Session, shopper_id: int) -> None:
    """Erase the shopper: every row that names them goes, with their keys (by cascade, and
    their devices' and tags' readings here: `observations` has no keys)."""
    forget_shopper_readings(session, shopper_id)
    session.execute(delete(Shopper).where(Shopper.id == shopper_id))


def shoppers_by_contact(
    session: Session, chain_id: int, email: str | None, phone: str | None
) -> list[int]:
    """Every shopper of this chain known by this e-mail address or phone number: for texts,
    for pickups, or given while another shopper had it (one person can have joined twice).
    Another chain's shopper with the same address is another person's data: never found.

    Raises:
        DomainError: the phone is not a number with its country code, or nobody has it.
    """
    if phone is not None:
        number = normalised_phone(phone)
        if number is None:
            raise DomainError(
                Refusal.INVALID, "invalid_phone", "--phone needs the country code, e.g. +44..."
            )
        known_by = or_(Shopper.phone == number, Shopper.pickup_phone == number)
    else:
        address = normalised_email(email or "")
        known_by = or_(
            Shopper.email == address,
            Shopper.unconfirmed_email == address,
            Shopper.pickup_email == address,
        )
    found = list(
        session.scalars(
            select(Shopper.id).where(Shopper.chain_id == chain_id, known_by).order_by(Shopper.id)
        )
    )
    if not found:
        raise DomainError(
            Refusal.NOT_FOUND, "no_shopper", "no shopper of the chain has that e-mail or phone"
        )
    return found

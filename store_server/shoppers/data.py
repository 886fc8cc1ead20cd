"""A shopper's own data: everything that names them, to download or to erase."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store_server.db.models import Base, Observation, Shopper


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
    """Erase the shopper: every row that names them goes, with their keys (by cascade)."""
    session.execute(delete(Shopper).where(Shopper.id == shopper_id))

"""Raw readings without foreign keys: who deletes them, and why ingest never writes an orphan.

`observations` names its store, gateway, device or tag by plain columns (migration 0020: the
keys were over a quarter of PostgreSQL's CPU per batch). What the cascade did, the code does:

- Whoever deletes a gateway, a device or a tag deletes its readings in the same transaction,
  by `forget_readings`, before the row itself (gateway removal, a phone moved to a new one, a
  tag removed, erasure). Nothing deletes a store or a chain (stores are never removed; a
  chain's key restricts).
- Ingest reads a batch's gateway, devices and tags before it writes. A delete committed in
  between must not leave the readings of a parent it deleted:
  - on PostgreSQL, ingest holds `INGEST_LOCK` shared from its gateway statement (the one
    before the devices and tags are read) to its commit, and `forget_readings` takes it
    exclusively before deleting anything. A delete waits for the batches in flight and then
    deletes what they wrote (and, having touched no row yet, holds none a batch waits for);
    a batch that starts during a delete waits for it, then reads the devices and tags
    without the deleted ones. One lock per transaction, not a row lock per reading as the
    keys took.
  - on SQLite, deletes and ingest's writes hold the database's one write lock, and ingest
    drops, under it, the rows of a device or tag deleted since it read them (`still_known`).
  - a gateway deleted in between fails the batch's id row, whose key to `gateways` stays
    (one row per batch): nothing of the batch is written.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import CustomerTag, Device, Observation

# The PostgreSQL advisory lock key (any 64-bit number), used only here; the migration's number,
# not a small one another program sharing the database might pick.
INGEST_LOCK = 20_020_000_000
# Ingest's share of it, as a column of the statement that reads the batch's gateway.
INGEST_SHARE = func.pg_advisory_xact_lock_shared(INGEST_LOCK)


def forget_readings(
    session: Session,
    *,
    gateway_id: str | None = None,
    device_ids: Collection[int] = (),
    tag_ids: Collection[int] = (),
) -> int:
    """Delete the readings of a gateway, of devices and of tags, once no batch in flight can
    still write theirs (see the module); return how many went."""
    if gateway_id is None and not device_ids and not tag_ids:
        return 0
    if session.connection().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(INGEST_LOCK)))
    deleted = 0
    # One statement per parent kind, each by the column it names: the device's by its index;
    # a tag's or a gateway's by a scan, as the cascade did (a tag is rarely removed).
    for where in (
        Observation.gateway_id == gateway_id if gateway_id is not None else None,
        Observation.device_id.in_(device_ids) if device_ids else None,
        Observation.tag_id.in_(tag_ids) if tag_ids else None,
    ):
        if where is not None:
            deleted += rows_changed(
                session.execute(
                    delete(Observation).where(where).execution_options(synchronize_session=False)
                )
            )
    return deleted


def forget_shopper_readings(session: Session, shopper_id: int) -> int:
    """Delete the readings of every device and tag of the shopper (her erasure)."""
    return forget_readings(
        session,
        device_ids=list(session.scalars(select(Device.id).where(Device.shopper_id == shopper_id))),
        tag_ids=list(
            session.scalars(select(CustomerTag.id).where(CustomerTag.shopper_id == shopper_id))
        ),
    )


def still_known(session: Session, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The observation rows (ingest's column order: store, gateway, shopper, device, tag, ...)
    whose device or tag still exists: on SQLite, under the write lock, what ingest writes."""
    device_ids = sorted({row[3] for row in rows if row[3] is not None})
    tag_ids = sorted({row[4] for row in rows if row[4] is not None})
    known = session.connection().exec_driver_sql(
        _COUNT_KNOWN, (json.dumps(device_ids), json.dumps(tag_ids))
    )
    if known.scalar() == len(device_ids) + len(tag_ids):
        return rows  # nearly always: nothing was deleted meanwhile
    devices = set(session.scalars(select(Device.id).where(Device.id.in_(device_ids))))
    tags = set(session.scalars(select(CustomerTag.id).where(CustomerTag.id.in_(tag_ids))))
    return [row for row in rows if row[3] in devices or row[4] in tags]


# SQLite's: the ids as one JSON array each, read by json_each: 0.1 ms for a batch's 500
# devices, where an IN list of 500 parameters through SQLAlchemy costs 0.6-0.8 ms.
_COUNT_KNOWN = (
    "SELECT (SELECT count(*) FROM devices WHERE id IN (SELECT value FROM json_each(?)))"
    " + (SELECT count(*) FROM customer_tags WHERE id IN (SELECT value FROM json_each(?)))"
)

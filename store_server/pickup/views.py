"""Pickup as staff see it: the arrival read model the domain builds and events carry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from store_server.vocabulary import AlertStatus


class Reason(BaseModel):
    """One signal behind an arrival (the `entered` event's): which, heard where, how strong."""

    signal: str
    gateway: str | None = None
    beacon: str | None = None  # a store beacon the shopper's phone heard
    place: str | None = None  # the zone or bay the gateway or beacon watches, or checked in at
    rssi: int | None = None
    detail: str | None = None


class ArrivalOut(BaseModel):
    """A pickup arrival as staff see it: first name, order and where; never contact details."""

    alert_id: int
    store_id: int
    visit_id: int
    order_id: int
    first_name: str
    order_number: str
    items: list[dict[str, Any]]
    where: str
    arrived_at: float
    status: AlertStatus
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    escalation_level: int = 0
    escalated_at: float | None = None  # when it last escalated (the console shows this time)
    confidence: float
    reasons: list[Reason]

"""Request and response models of the pickup API (arrivals, alerts, exchanges)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from store_server.pickup.orders import ItemIn
from store_server.pickup.views import ArrivalOut
from store_server.vocabulary import ExchangeKind
from store_server.web.schemas import Strict


class ArrivalsOut(BaseModel):
    """The open arrivals of a store."""

    arrivals: list[ArrivalOut]


class ExchangeIn(Strict):
    """An exchange or return recorded against an order."""

    kind: ExchangeKind
    items: Annotated[list[ItemIn], Field(max_length=200)] = []
    note: Annotated[str, Field(max_length=500)] = ""


class HandoverIn(Strict):
    """Handing an order over, optionally with an exchange or return."""

    exchange: ExchangeIn | None = None


class ExchangeOut(BaseModel):
    """An exchange or return recorded on an order."""

    exchange_id: int
    order_id: int
    kind: str

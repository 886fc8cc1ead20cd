"""Request and response models of the pickup API (arrivals, alerts, exchanges)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from store_server.pickup.orders import ItemIn
from store_server.pickup.views import ArrivalOut


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArrivalsOut(BaseModel):
    """The open arrivals of a store."""

    arrivals: list[ArrivalOut]


class ExchangeIn(_Strict):
    """An exchange or return recorded against an order."""

    kind: Literal["exchange", "return"]
    items: Annotated[list[ItemIn], Field(max_length=200)] = []
    note: Annotated[str, Field(max_length=500)] = ""


class HandoverIn(_Strict):
    """Handing an order over, optionally with an exchange or return."""

    exchange: ExchangeIn | None = None

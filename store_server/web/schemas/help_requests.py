"""Request and response models of help on the floor (the shopper's ask, the tablets' list)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from store_server.assistance.views import HelpRequestOut, MyHelpRequestOut
from store_server.web.schemas import RowId, Strict


class HelpAskIn(Strict):
    """ "Ask for help" at a store, optionally in a zone she picks (else presence places her)."""

    store_id: RowId
    zone: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class HelpRequestsOut(BaseModel):
    """The open help requests of a store."""

    help_requests: list[HelpRequestOut]


class MyHelpRequestsOut(BaseModel):
    """The shopper's open help requests (at most one per store)."""

    help_requests: list[MyHelpRequestOut]

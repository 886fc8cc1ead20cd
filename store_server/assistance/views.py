"""Help requests as staff and as the shopper see them: the read models events carry."""

from __future__ import annotations

from pydantic import BaseModel

from store_server.vocabulary import HelpStatus


class HelpRequestOut(BaseModel):
    """A help request as staff see it: her first name, where, since when, who is going."""

    request_id: int
    store_id: int
    first_name: str
    where: str
    raised_at: float
    status: HelpStatus
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    closed_at: float | None = None
    escalation_level: int = 0
    escalated_at: float | None = None  # when it last escalated (the console shows this time)


class MyHelpRequestOut(BaseModel):
    """A help request as the shopper sees it: who is coming (a first name), and how else to
    reach a person (the store's phone and web page)."""

    request_id: int
    store_id: int
    where: str
    raised_at: float
    status: HelpStatus
    staff_on_the_way: str | None = None
    store_phone: str
    store_url: str

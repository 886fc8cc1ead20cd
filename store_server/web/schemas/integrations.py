"""Request and response models of the order system's API: orders and customer attributes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from store_server.web.schemas import AttributeValue, Name, Strict


class OrderOut(BaseModel):
    """An order as stored: no customer details, only whether it is matched to a shopper."""

    id: int
    store_id: int
    external_id: str
    number: str
    status: str
    items: list[dict[str, Any]]
    matched_to_shopper: bool
    pickup_from: float | None
    pickup_until: float | None
    claim_url: str | None = Field(
        description=(
            'a signed, expiring link for the order\'s "ready for pickup" message: opened on '
            "the customer's phone it links the order to her (null once collected or cancelled)"
        )
    )


class CustomerAttributesIn(Strict):
    """A store system's profile attributes of a customer, named by e-mail (replaces them all)."""

    customer_email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    attributes: Annotated[dict[Name, AttributeValue], Field(max_length=20)]


class AttributesSetOut(BaseModel):
    """Whether the e-mail named a shopper of this store (only then is anything kept)."""

    matched: bool

"""Models of `/api/v1/auth`: staff credentials and the session they buy."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from store_server.vocabulary import StaffRole
from store_server.web.schemas import RowId, Strict


class LoginIn(Strict):
    """Staff credentials; `chain_id` only when the e-mail logs in at several chains (the
    answer `409 choose_chain` lists them)."""

    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]
    chain_id: RowId | None = None


class StoreRef(BaseModel):
    """A store the staffer may act at."""

    id: int
    name: str


class StaffOut(BaseModel):
    """Who is logged in (no password, no history): the store the pages open at, and every
    store they may switch to (a manager's assigned stores; every store of an admin's chain)."""

    id: int
    name: str
    role: StaffRole
    store_id: int
    store_name: str
    stores: list[StoreRef]


class LoginOut(BaseModel):
    """A bearer token for the API and the Socket.IO connection."""

    token: str
    expires_at: float
    staff: StaffOut


class LoggedOutOut(BaseModel):
    """The presented session, if any, has ended."""

    logged_out: bool

"""Models of `/api/v1/auth`: staff credentials and the session they buy."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from store_server.vocabulary import StaffRole
from store_server.web.schemas import Strict


class LoginIn(Strict):
    """Staff credentials."""

    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class StaffOut(BaseModel):
    """Who is logged in (no password, no history)."""

    id: int
    name: str
    role: StaffRole
    store_id: int
    store_name: str


class LoginOut(BaseModel):
    """A bearer token for the API and the Socket.IO connection."""

    token: str
    expires_at: float
    staff: StaffOut


class LoggedOutOut(BaseModel):
    """The presented session, if any, has ended."""

    logged_out: bool

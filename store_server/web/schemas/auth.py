"""Models of `/api/v1/auth`: staff credentials and the session they buy."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from store_server.web.schemas import _Strict


class LoginIn(_Strict):
    """Staff credentials."""

    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class StaffOut(BaseModel):
    """Who is logged in (no password, no history)."""

    id: int
    name: str
    role: Literal["staff", "manager"]
    store_id: int
    store_name: str


class LoginOut(BaseModel):
    """A bearer token for the API and the Socket.IO connection."""

    token: str
    expires_at: float
    staff: StaffOut

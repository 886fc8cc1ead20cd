"""Pickup alert rules, pure: what may happen to an alert and when it escalates or expires."""

from __future__ import annotations

OPEN_STATES = ("raised", "acknowledged")


def first_name(name: str) -> str:
    """The first word of a staffer's name: all a shopper is told of who is coming."""
    return name.split()[0] if name.strip() else name


def due_escalation_level(
    raised_at: float, now: float, ack_limit_s: float, second_limit_s: float
) -> int:
    """0 before the store's acknowledgement limit, 1 after it, 2 after the second limit."""
    waited = now - raised_at
    if waited >= second_limit_s:
        return 2
    if waited >= ack_limit_s:
        return 1
    return 0


def is_expired(raised_at: float, now: float, expiry_s: float) -> bool:
    """An open alert expires `expiry_s` after it was raised."""
    return now - raised_at >= expiry_s


def merged_order_status(current: str, incoming: str) -> str:
    """The order status after the order system sends `incoming`.

    The store server owns `arrived` and `handed_over`: an order system that still says
    `ready` (or `placed`) does not undo an arrival or a handover, and a late cancellation
    does not undo a handover.
    """
    if current == "handed_over":
        return current
    if current == "arrived" and incoming in ("placed", "ready"):
        return current
    return incoming

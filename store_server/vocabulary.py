"""The store server's vocabularies: every kind and status the models, schemas and fusion share.

Each is a `StrEnum`, so a member is its string in the database, in JSON and in Socket.IO
payloads; a column, a pydantic field and a fusion rule name the same enum instead of repeating
a list of strings. Pure: imports nothing of the server.
"""

from __future__ import annotations

from enum import StrEnum


class PlaceKind(StrEnum):
    """Where a gateway or beacon watches, and where fusion places a person."""

    ENTRANCE = "entrance"
    ZONE = "zone"
    BAY = "bay"  # a curbside pickup bay
    FLOOR = "floor"  # in the store, in no zone (never a stored zone's kind)


class ZoneKind(StrEnum):
    """A store zone's kind, as managers define it (the places of PlaceKind but `floor`)."""

    ENTRANCE = "entrance"
    ZONE = "zone"
    BAY = "bay"
    # The pavement side of a door watched from both sides: the zone of a gateway or beacon
    # mounted outside the door, next to the entrance's inside one. Fusion counts it as the
    # entrance seen from outside (the direction of passage, docs/hardware.md).
    DOOR_OUTSIDE = "door_outside"


class PresenceState(StrEnum):
    """A person's state in fusion."""

    OUTSIDE = "outside"
    WALK_BY = "walk-by"
    ENTRANCE = "entrance"
    INSIDE = "inside"
    ZONE = "zone"
    BAY = "bay"


class PresenceKind(StrEnum):
    """A presence event: what staff see and what campaigns trigger on."""

    WALK_BY = "walk_by"
    ENTERED = "entered"
    ZONE_ENTERED = "zone_entered"
    ZONE_DWELL = "zone_dwell"
    CURBSIDE = "curbside"
    EXITED = "exited"


class CampaignTrigger(StrEnum):
    """What a campaign answers to: four presence events, a handover, a survey answer."""

    WALK_BY = PresenceKind.WALK_BY.value
    ENTERED = PresenceKind.ENTERED.value
    ZONE_DWELL = PresenceKind.ZONE_DWELL.value
    EXITED = PresenceKind.EXITED.value
    PICKUP_HANDED_OVER = "pickup_handed_over"
    SURVEY_ANSWERED = "survey_answered"


class DeviceKind(StrEnum):
    """A registered radio: a store's beacon or a shopper's key-fob or car tag."""

    IBEACON = "ibeacon"
    ALTBEACON = "altbeacon"
    EDDYSTONE_UID = "eddystone_uid"


class OrderStatus(StrEnum):
    """A pickup order's status (`arrived` is set by the server, never by the order system)."""

    PLACED = "placed"
    READY = "ready"
    ARRIVED = "arrived"
    HANDED_OVER = "handed_over"
    CANCELLED = "cancelled"


class AlertStatus(StrEnum):
    """A pickup alert's lifecycle."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    HANDED_OVER = "handed_over"
    EXPIRED = "expired"


class HelpStatus(StrEnum):
    """A help request's lifecycle: a pickup alert's, closed by staff instead of handed over."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"
    EXPIRED = "expired"


class StaffRole(StrEnum):
    """What a staff account may do."""

    STAFF = "staff"  # the tablet, at the stores assigned
    MANAGER = "manager"  # also the console, at the stores assigned
    ADMIN = "admin"  # a manager at every store of the chain, and its staff accounts


class Purpose(StrEnum):
    """What a shopper consented to be contacted for."""

    ARRIVAL = "arrival"  # pickup alerts: being recognised on arrival
    OFFERS = "offers"


class Channel(StrEnum):
    """How a message reaches a shopper."""

    APP = "app"  # in-app, over Socket.IO while the page is open
    PUSH = "push"
    SMS = "sms"
    EMAIL = "email"


class ExchangeKind(StrEnum):
    """What came back at a pickup."""

    EXCHANGE = "exchange"
    RETURN = "return"

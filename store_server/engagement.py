"""Campaign engagement: a trigger finds the store's matching campaigns, `decide` rules on each.

The shell (`on_trigger`) reads campaigns, consents, orders and past decisions in the caller's
transaction, logs one `decisions` row per campaign decided, issues a coupon for each `sent`
and returns the in-app Socket.IO events for the caller to publish after the commit. It does no
network I/O: only the in-app channel is delivered now (push, SMS and e-mail are not wired yet).

Reachability: `app` counts as reachable unless the caller passes `is_connected` (whether the
shopper's page has a live Socket.IO connection); the other channels are never reachable yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store_server import decide
from store_server.coupons import coupon_out, issue_coupon
from store_server.models import (
    Campaign,
    CampaignDecision,
    CampaignVersion,
    Consent,
    PickupOrder,
    Shopper,
)
from store_server.qr import coupon_qr_png_data_uri
from store_server.realtime import shopper_room

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any], str]  # (event name, payload, room), as pickup.publish takes
IsConnected = Callable[[int], bool]

# Presence events (store_server.fusion kinds) that can trigger a campaign.
PRESENCE_TRIGGERS = frozenset({"walk_by", "entered", "zone_dwell", "exited"})
TRIGGERS = (*sorted(PRESENCE_TRIGGERS), "pickup_handed_over")
COUPON_SOURCE = "campaign"
COUPON_EVENT = "coupon"
# Channels that can carry a message today: in-app only (the other senders need network I/O,
# which must not happen inside the ingest request; they come with an outbox).
DELIVERABLE_CHANNELS: frozenset[decide.Channel] = frozenset({"app"})
# An order in this state means the shopper is here to collect it: no promotion until handover.
PICKUP_TRIP_STATUSES = ("arrived",)


def is_live(version: CampaignVersion, now: float) -> bool:
    """Whether the version's schedule covers `now`."""
    return version.starts_at <= now and (version.ends_at is None or now < version.ends_at)


def matches(
    version: CampaignVersion, trigger: str, zone: str | None, dwell_s: float | None
) -> bool:
    """Whether a trigger (and for zone dwell, its zone and time spent there) fits the version."""
    if version.trigger != trigger:
        return False
    if trigger != "zone_dwell":
        return True
    return (
        zone is not None
        and zone == version.zone
        and dwell_s is not None
        and dwell_s >= (version.min_dwell_s or 0.0)
    )


def coupon_expires_at(version: CampaignVersion, now: float) -> float:
    """When a coupon of this version issued at `now` expires."""
    if version.valid_until is not None:
        return version.valid_until
    return now + (version.valid_minutes or 0) * 60.0


def message_for(
    campaign_id: int, version: CampaignVersion, now: float, visit_id: int | None
) -> decide.Message:
    """The decision point's view of an offer; keyed by the campaign (not the version)."""
    return decide.Message(
        campaign_id=str(campaign_id),
        purpose="offers",
        channels=tuple(version.channels),  # type: ignore[arg-type]  # validated on the way in
        expires_at=coupon_expires_at(version, now),
        holdout_share=version.holdout_share,
        visit_id=visit_id,
        max_per_shopper=version.max_per_shopper,
    )


def _live_versions(
    session: Session, store_id: int, trigger: str, now: float
) -> list[tuple[int, CampaignVersion]]:
    """Active campaigns of the store with the current version for this trigger and `now`."""
    campaigns = session.scalars(
        select(Campaign.id).where(Campaign.store_id == store_id, Campaign.active.is_(True))
    ).all()
    if not campaigns:
        return []
    versions = session.scalars(
        select(CampaignVersion)
        .where(CampaignVersion.campaign_id.in_(campaigns))
        .order_by(CampaignVersion.campaign_id, CampaignVersion.version.desc())
    ).all()
    current: dict[int, CampaignVersion] = {}
    for version in versions:
        current.setdefault(version.campaign_id, version)
    return [
        (campaign_id, version)
        for campaign_id, version in sorted(current.items())
        if version.trigger == trigger and is_live(version, now)
    ]


def _recipient(
    session: Session,
    store_id: int,
    shopper_id: int,
    campaign_ids: Sequence[int],
    visit_id: int | None,
    now: float,
    is_connected: IsConnected | None,
) -> decide.Recipient | None:
    shopper = session.get(Shopper, shopper_id)
    if shopper is None:
        return None
    consents = frozenset(
        (purpose, channel)
        for purpose, channel in session.execute(
            select(Consent.purpose, Consent.channel).where(
                Consent.shopper_id == shopper_id, Consent.store_id == store_id
            )
        ).all()
    )
    reachable = set(DELIVERABLE_CHANNELS)
    if is_connected is not None and not is_connected(shopper_id):
        reachable.discard("app")
    on_trip = (
        session.scalar(
            select(PickupOrder.id)
            .where(
                PickupOrder.shopper_id == shopper_id,
                PickupOrder.store_id == store_id,
                PickupOrder.status.in_(PICKUP_TRIP_STATUSES),
            )
            .limit(1)
        )
        is not None
    )
    # What decide needs: the last two days, this visit, and every send of these campaigns.
    relevant = [
        CampaignDecision.decided_at >= now - decide.MAX_LOCAL_DAY_S,
        CampaignDecision.campaign_id.in_(campaign_ids),
    ]
    if visit_id is not None:
        relevant.append(CampaignDecision.visit_id == visit_id)
    sent = session.execute(
        select(CampaignDecision.decided_at, CampaignDecision.campaign_id, CampaignDecision.visit_id)
        .where(
            CampaignDecision.shopper_id == shopper_id,
            CampaignDecision.outcome == "sent",
            or_(*relevant),
        )
        .order_by(CampaignDecision.decided_at)
    ).all()
    return decide.Recipient(
        shopper_id=shopper_id,
        timezone=shopper.timezone,
        consents=consents,  # type: ignore[arg-type]  # checked strings (schemas.ConsentIn)
        reachable=frozenset(reachable),
        on_pickup_trip=on_trip,
        history=tuple(decide.SentOffer(at, str(cid), vid) for at, cid, vid in sent),
    )


def on_trigger(
    session: Session,
    store_id: int,
    shopper_id: int,
    trigger: str,
    now: float,
    visit_id: int | None = None,
    zone: str | None = None,
    dwell_s: float | None = None,
    base_url: str | None = None,
    is_connected: IsConnected | None = None,
) -> list[Event]:
    """Decide every matching campaign for this trigger; log each decision; issue what is sent.

    Args:
        base_url: the server's public URL; when given, the coupon event carries its QR code.
        is_connected: whether a shopper's page is connected; None treats `app` as reachable.

    Returns:
        The `coupon` events for the shopper's room, to publish after the commit.
    """
    candidates = [
        (cid, v)
        for cid, v in _live_versions(session, store_id, trigger, now)
        if matches(v, trigger, zone, dwell_s)
    ]
    if not candidates:
        return []
    recipient = _recipient(
        session, store_id, shopper_id, [c for c, _ in candidates], visit_id, now, is_connected
    )
    if recipient is None:
        return []
    events: list[Event] = []
    for campaign_id, version in candidates:
        message = message_for(campaign_id, version, now, visit_id)
        decision = decide.decide(recipient, message, now)
        row = CampaignDecision(
            store_id=store_id,
            shopper_id=shopper_id,
            campaign_id=campaign_id,
            campaign_version_id=version.id,
            visit_id=visit_id,
            trigger=trigger,
            outcome=decision.outcome,
            channel=decision.channel,
            reason=decision.reason,
            decided_at=now,
            hold_until=decision.hold_until,
        )
        if decision.outcome == "sent":
            coupon = issue_coupon(
                session,
                store_id,
                shopper_id,
                COUPON_SOURCE,
                version.offer_text,
                version.percent_off,
                now,
                message.expires_at - now,
            )
            coupon.campaign_version_id = version.id
            session.flush()
            row.coupon_id = coupon.id
            payload: dict[str, Any] = {
                **coupon_out(coupon).model_dump(),
                "campaign_id": campaign_id,
            }
            if base_url:
                payload["qr_png"] = coupon_qr_png_data_uri(base_url.rstrip("/"), coupon.code)
            events.append((COUPON_EVENT, payload, shopper_room(shopper_id)))
            # The next campaign of this trigger must see this send (per-visit and daily caps).
            recipient = replace(
                recipient,
                history=(*recipient.history, decide.SentOffer(now, str(campaign_id), visit_id)),
            )
        session.add(row)
        log.info(
            "event=campaign_decided store=%s campaign=%s version=%s trigger=%s outcome=%s",
            store_id,
            campaign_id,
            version.version,
            trigger,
            decision.outcome,
        )
    session.flush()
    return events


def on_presence_events(
    session: Session,
    store_id: int,
    presence: Sequence[Event],
    now: float,
    base_url: str | None = None,
) -> list[Event]:
    """Run `on_trigger` for each stored presence event (the `presence` events ingest emits)."""
    events: list[Event] = []
    for name, payload, _room in presence:
        if name != "presence" or payload["kind"] not in PRESENCE_TRIGGERS:
            continue
        events += on_trigger(
            session,
            store_id,
            payload["shopper_id"],
            payload["kind"],
            now,
            visit_id=payload["visit_id"],
            zone=payload["zone"],
            dwell_s=payload["dwell_s"],
            base_url=base_url,
        )
    return events

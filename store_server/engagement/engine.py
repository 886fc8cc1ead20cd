"""Campaign engagement: a trigger finds the store's matching campaigns, `decide` rules on each.

The shell (`on_trigger`) reads campaigns, the shopper's consents, addresses, orders and past
decisions in the caller's transaction, keeps the campaigns whose schedule covers `now` and
whose audience includes the shopper, logs one `decisions` row per campaign decided, and for
each `sent` issues the coupon and queues its delivery (`notify.queue_delivery`), kept for the
shopper's inbox whatever the connection. It does no network I/O: it returns the `notify.Job`s
for the caller to submit after the commit.

`release_held` is the sweep's half: quiet-hours decisions whose hold ended are re-decided once
(a conditional UPDATE marks each), and sent only if the offer is still valid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from datetime import time as clock_time
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import (
    Campaign,
    CampaignDecision,
    CampaignVersion,
    Consent,
    PickupOrder,
    PresenceEvent,
    Shopper,
    Store,
    Visit,
)
from store_server.engagement import decide
from store_server.engagement.coupons import coupon_out, issue_coupon
from store_server.engagement.qr import redemption_url
from store_server.messaging.channels import Contact, Notification
from store_server.messaging.outbound import (
    COUPON_KIND,
    Job,
    Reach,
    contact_for,
    new_message_id,
    person_contact,
    queue_delivery,
)
from store_server.presence.visits import PresenceEventOut
from store_server.vocabulary import Channel, PresenceKind, Purpose

log = logging.getLogger(__name__)


# Presence events that can trigger a campaign.
PRESENCE_TRIGGERS = frozenset(
    {PresenceKind.WALK_BY, PresenceKind.ENTERED, PresenceKind.ZONE_DWELL, PresenceKind.EXITED}
)
COUPON_SOURCE = "campaign"
# An order in this state means the shopper is here to collect it: no promotion until handover.
PICKUP_TRIP_STATUSES = ("arrived",)
ZONE_EVENT_KINDS = (PresenceKind.ZONE_ENTERED, PresenceKind.ZONE_DWELL)
# Two `zone_dwell` events of one stay (the minute while she is there, then the total when she
# leaves) name the same start, `at - dwell_s`; starts this close are one stay (float rounding).
SAME_STAY_S = 1.0


@dataclass(frozen=True)
class Trigger:
    """What happened: the trigger's name and, for presence, the visit, zone, dwell and when."""

    name: str
    visit_id: int | None = None
    zone: str | None = None
    dwell_s: float | None = None
    at: float | None = None


def _clock(text: str) -> clock_time:
    hours, minutes = text.split(":")
    return clock_time(int(hours), int(minutes))


def is_live(version: CampaignVersion, now: float, store_timezone: str) -> bool:
    """Whether the version's schedule covers `now`: start and end, days and daily hours.

    Days and hours are the store's local time; a daily window whose end is before its start
    runs past midnight (e.g. 22:00-02:00), and then counts for the day it started.
    """
    if now < version.starts_at or (version.ends_at is not None and now >= version.ends_at):
        return False
    if version.days is None and version.daily_start is None:
        return True
    local = datetime.fromtimestamp(now, decide.zone(store_timezone))
    day, t = local.isoweekday(), local.time()
    if version.daily_start is not None and version.daily_end is not None:
        start, end = _clock(version.daily_start), _clock(version.daily_end)
        if start < end:
            if not start <= t < end:
                return False
        elif end <= t < start:
            return False
        elif t < end:  # the small hours of a window that began the evening before
            day = day - 1 or 7
    return version.days is None or day in version.days


def matches(version: CampaignVersion, trigger: Trigger) -> bool:
    """Whether a trigger (and for zone dwell, its zone and time spent there) fits the version."""
    if version.trigger != trigger.name:
        return False
    if trigger.name != "zone_dwell":
        return True
    return (
        trigger.zone is not None
        and trigger.zone == version.zone
        and trigger.dwell_s is not None
        and trigger.dwell_s >= (version.min_dwell_s or 0.0)
    )


def in_audience(
    session: Session,
    store_id: int,
    shopper: Shopper,
    audience: Mapping[str, Any] | None,
    visit_id: int | None,
) -> bool:
    """Whether the shopper meets every condition of the audience (None: everyone)."""
    if not audience:
        return True
    attributes = audience.get("attributes")
    if attributes:
        have = shopper.attributes or {}
        if any(have.get(key) != value for key, value in attributes.items()):
            return False
    min_visits = audience.get("min_past_visits")
    if min_visits:
        earlier = select(func.count(Visit.id)).where(
            Visit.store_id == store_id, Visit.shopper_id == shopper.id
        )
        if visit_id is not None:
            earlier = earlier.where(Visit.id != visit_id)
        if (session.scalar(earlier) or 0) < min_visits:
            return False
    bought = audience.get("bought")
    if bought:
        wanted = bought.casefold()
        orders = session.scalars(
            select(PickupOrder.items).where(
                PickupOrder.store_id == store_id,
                PickupOrder.shopper_id == shopper.id,
                PickupOrder.status == "handed_over",
            )
        ).all()
        if not any(wanted in str(item.get("name", "")).casefold() for o in orders for item in o):
            return False
    visited = audience.get("visited_zone")
    if visited:
        seen = select(PresenceEvent.id).where(
            PresenceEvent.store_id == store_id,
            PresenceEvent.shopper_id == shopper.id,
            PresenceEvent.kind.in_(ZONE_EVENT_KINDS),
            PresenceEvent.zone == visited,
        )
        if visit_id is not None:
            seen = seen.where(
                or_(PresenceEvent.visit_id.is_(None), PresenceEvent.visit_id != visit_id)
            )
        if session.scalar(seen.limit(1)) is None:
            return False
    return True


def coupon_expires_at(version: CampaignVersion, now: float) -> float:
    """When a coupon of this version issued at `now` expires."""
    if version.valid_until is not None:
        return version.valid_until
    return now + (version.valid_minutes or 0) * 60.0


def message_for(
    campaign_id: int, version: CampaignVersion, expires_at: float, visit_id: int | None
) -> decide.Message:
    """The decision point's view of an offer; keyed by the campaign (not the version)."""
    return decide.Message(
        campaign_id=str(campaign_id),
        purpose=Purpose.OFFERS,
        channels=tuple(Channel(c) for c in version.channels),  # validated on the way in
        expires_at=expires_at,
        holdout_share=version.holdout_share,
        visit_id=visit_id,
        max_per_shopper=version.max_per_shopper,
    )


def describe_offer(
    percent_off: int | None, amount_off_cents: int | None, scope: str | None, currency: str
) -> str:
    """The offer in plain words, e.g. "20% off dresses" or "5.00 GBP off" ("" if text only)."""
    if percent_off is not None:
        value = f"{percent_off}% off"
    elif amount_off_cents is not None:
        value = f"{amount_off_cents / 100:.2f} {currency} off"
    else:
        return ""
    return f"{value} {scope}" if scope else value


def _live_versions(
    session: Session, store_id: int, trigger: Trigger, now: float, store_timezone: str
) -> list[tuple[int, CampaignVersion]]:
    """Active campaigns of the store whose current version fits the trigger and `now`."""
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
        if matches(version, trigger) and is_live(version, now, store_timezone)
    ]


def _stay_already_triggered(
    session: Session, campaign_id: int, version: CampaignVersion, trigger: Trigger
) -> bool:
    """Whether an earlier `zone_dwell` of this same stay already triggered this campaign.

    A stay sends two: its minute while she is there and its total when she leaves; both
    match a campaign whose minimum the minute reached, and without this a store allowing two
    offers a visit would send the one offer twice for one stay. A second stay at the same
    rail starts later, so it triggers the campaign again (and the caps decide).
    """
    if (
        trigger.name != PresenceKind.ZONE_DWELL
        or trigger.visit_id is None
        or trigger.at is None
        or trigger.dwell_s is None
    ):
        return False
    started = trigger.at - trigger.dwell_s
    earlier_of_this_stay = (
        select(PresenceEvent.id)
        .where(
            PresenceEvent.visit_id == trigger.visit_id,
            PresenceEvent.kind == PresenceKind.ZONE_DWELL,
            PresenceEvent.zone == trigger.zone,
            PresenceEvent.at < trigger.at,
            PresenceEvent.dwell_s >= (version.min_dwell_s or 0.0),
            func.abs(PresenceEvent.at - PresenceEvent.dwell_s - started) < SAME_STAY_S,
        )
        .limit(1)
    )
    if session.scalar(earlier_of_this_stay) is None:
        return False
    decided_this_visit = (
        select(CampaignDecision.id)
        .where(
            CampaignDecision.campaign_id == campaign_id,
            CampaignDecision.visit_id == trigger.visit_id,
            CampaignDecision.trigger == trigger.name,
        )
        .limit(1)
    )
    return session.scalar(decided_this_visit) is not None


def _recipient(
    session: Session,
    store_id: int,
    shopper: Shopper,
    contact: Contact,
    campaign_ids: Sequence[int],
    visit_id: int | None,
    now: float,
    reach: Reach,
) -> decide.Recipient:
    consents = frozenset(
        (purpose, channel)
        for purpose, channel in session.execute(
            select(Consent.purpose, Consent.channel).where(
                Consent.shopper_id == shopper.id, Consent.store_id == store_id
            )
        ).all()
    )
    on_trip = (
        session.scalar(
            select(PickupOrder.id)
            .where(
                PickupOrder.shopper_id == shopper.id,
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
            CampaignDecision.shopper_id == shopper.id,
            CampaignDecision.outcome == "sent",
            or_(*relevant),
        )
        .order_by(CampaignDecision.decided_at)
    ).all()
    return decide.Recipient(
        shopper_id=shopper.id,
        timezone=shopper.timezone,
        consents=consents,  # type: ignore[arg-type]  # checked strings (schemas.ConsentIn)
        reachable=reach.reachable(contact),
        on_pickup_trip=on_trip,
        history=tuple(decide.SentOffer(at, str(cid), vid) for at, cid, vid in sent),
    )


def _deliver_offer(
    session: Session,
    store: Store,
    contact: Contact,
    campaign_id: int,
    version: CampaignVersion,
    decision: decide.Decision,
    row: CampaignDecision,
    expires_at: float,
    now: float,
    reach: Reach,
) -> Job:
    """Issue the coupon of a `sent` decision and queue its delivery."""
    coupon = issue_coupon(
        session,
        store.id,
        contact.shopper_id,
        COUPON_SOURCE,
        version.offer_text,
        version.percent_off,
        now,
        expires_at - now,
        amount_off_cents=version.amount_off_cents,
        product_scope=version.product_scope,
    )
    coupon.campaign_version_id = version.id
    session.flush()
    row.coupon_id = coupon.id
    terms = describe_offer(
        version.percent_off, version.amount_off_cents, version.product_scope, store.currency
    )
    notification = Notification(
        message_id=new_message_id(),
        kind=COUPON_KIND,
        title=version.offer_text,
        body=f"{terms + '. ' if terms else ''}Show code {coupon.code} at the till.",
        url=redemption_url(reach.base_url, coupon.code),
        expires_at=coupon.expires_at,
        data={**coupon_out(coupon).model_dump(), "campaign_id": campaign_id},
        person=person_contact(store),
    )
    return queue_delivery(
        session,
        store.id,
        contact,
        notification,
        decision.channels,
        now,
        decision_id=row.id,
        inbox=True,
    )


def on_trigger(
    session: Session,
    store_id: int,
    shopper_id: int,
    trigger: Trigger,
    now: float,
    reach: Reach,
) -> list[Job]:
    """Decide every matching campaign for this trigger; log each decision; queue what is sent.

    Returns:
        The deliveries to submit to the `Outbound` queue after the commit.
    """
    store = session.get(Store, store_id)
    shopper = session.get(Shopper, shopper_id)
    if store is None or shopper is None:
        return []
    candidates = [
        (cid, version)
        for cid, version in _live_versions(session, store_id, trigger, now, store.timezone)
        if in_audience(session, store_id, shopper, version.audience, trigger.visit_id)
        and not _stay_already_triggered(session, cid, version, trigger)
    ]
    if not candidates:
        return []
    contact = contact_for(session, shopper)
    recipient = _recipient(
        session,
        store_id,
        shopper,
        contact,
        [c for c, _ in candidates],
        trigger.visit_id,
        now,
        reach,
    )
    jobs: list[Job] = []
    for campaign_id, version in candidates:
        expires_at = coupon_expires_at(version, now)
        message = message_for(campaign_id, version, expires_at, trigger.visit_id)
        decision = decide.decide(recipient, message, now, policy_of(store))
        row = _log(session, store_id, shopper_id, campaign_id, version, trigger, decision, now)
        if decision.outcome == "sent":
            jobs.append(
                _deliver_offer(
                    session,
                    store,
                    contact,
                    campaign_id,
                    version,
                    decision,
                    row,
                    expires_at,
                    now,
                    reach,
                )
            )
            # The next campaign of this trigger must see this send (per-visit and daily caps).
            recipient = replace(
                recipient,
                history=(
                    *recipient.history,
                    decide.SentOffer(now, str(campaign_id), trigger.visit_id),
                ),
            )
    return jobs


def _log(
    session: Session,
    store_id: int,
    shopper_id: int,
    campaign_id: int,
    version: CampaignVersion,
    trigger: Trigger,
    decision: decide.Decision,
    now: float,
) -> CampaignDecision:
    row = CampaignDecision(
        store_id=store_id,
        shopper_id=shopper_id,
        campaign_id=campaign_id,
        campaign_version_id=version.id,
        visit_id=trigger.visit_id,
        trigger=trigger.name,
        outcome=decision.outcome,
        channel=decision.channel,
        reason=decision.reason,
        decided_at=now,
        hold_until=decision.hold_until,
    )
    session.add(row)
    session.flush()
    log.info(
        "event=campaign_decided store=%s campaign=%s version=%s trigger=%s outcome=%s",
        store_id,
        campaign_id,
        version.version,
        trigger.name,
        decision.outcome,
    )
    return row


def policy_of(store: Store) -> decide.Policy:
    """The offer rules the store's manager set (caps, minimum gap, quiet hours)."""
    return decide.Policy(
        max_offers_per_day=store.max_offers_per_day,
        max_offers_per_visit=store.max_offers_per_visit,
        quiet_start=clock_time.fromisoformat(store.quiet_start),
        quiet_end=clock_time.fromisoformat(store.quiet_end),
        min_gap_s=float(store.min_gap_s),
    )


def release_held(session: Session, now: float, reach: Reach) -> list[Job]:
    """Re-decide every quiet-hours decision whose hold has ended, once each.

    The offer keeps the expiry it had when first decided: a "next two hours" offer held
    overnight is dropped as `expired`, not sent stale. Every other rule runs again at `now`
    (consent may have been revoked, a new day has its own cap, the campaign may be paused).
    """
    due = session.scalars(
        select(CampaignDecision)
        .where(
            CampaignDecision.outcome == "quiet_hours",
            CampaignDecision.released_at.is_(None),
            CampaignDecision.hold_until <= now,
        )
        .order_by(CampaignDecision.hold_until, CampaignDecision.id)
    ).all()
    jobs: list[Job] = []
    for held in due:
        claimed = session.execute(
            update(CampaignDecision)
            .where(CampaignDecision.id == held.id, CampaignDecision.released_at.is_(None))
            .values(released_at=now)
        )
        if rows_changed(claimed) != 1:  # another sweep took it
            continue
        jobs += _release_one(session, held, now, reach)
    return jobs


def _release_one(session: Session, held: CampaignDecision, now: float, reach: Reach) -> list[Job]:
    version = session.get(CampaignVersion, held.campaign_version_id)
    campaign = session.get(Campaign, held.campaign_id)
    store = session.get(Store, held.store_id)
    shopper = session.get(Shopper, held.shopper_id)
    if version is None or campaign is None or store is None or shopper is None:
        return []
    trigger = Trigger(held.trigger, held.visit_id)
    expires_at = coupon_expires_at(version, held.decided_at)
    message = message_for(campaign.id, version, expires_at, held.visit_id)
    contact = contact_for(session, shopper)
    recipient = _recipient(
        session, store.id, shopper, contact, [campaign.id], held.visit_id, now, reach
    )
    hold = decide.Decision("quiet_hours", held.reason, hold_until=held.hold_until)
    if not campaign.active:
        decision = decide.Decision("expired", "the campaign was paused while held")
    else:
        decision = decide.release_held(hold, recipient, message, now, policy_of(store))
    row = _log(session, store.id, shopper.id, campaign.id, version, trigger, decision, now)
    if decision.outcome != "sent":
        return []
    return [
        _deliver_offer(
            session, store, contact, campaign.id, version, decision, row, expires_at, now, reach
        )
    ]


def on_presence_events(
    session: Session, recorded: Sequence[PresenceEventOut], now: float, reach: Reach
) -> list[Job]:
    """Run `on_trigger` for each stored presence event that can trigger a campaign."""
    jobs: list[Job] = []
    for event in recorded:
        if event.kind not in PRESENCE_TRIGGERS:
            continue
        trigger = Trigger(event.kind, event.visit_id, event.zone, event.dwell_s, event.at)
        jobs += on_trigger(session, event.store_id, event.shopper_id, trigger, now, reach)
    return jobs

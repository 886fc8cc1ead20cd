"""The manager's report: campaign funnel and lift, pickups, help requests, care score, beacons,
gateways."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from store_server.db.models import (
    Beacon,
    Campaign,
    CampaignDecision,
    Coupon,
    Delivery,
    Gateway,
    HelpRequest,
    PickupAlert,
    Store,
    Survey,
    Visit,
)
from store_server.reporting.analytics import (
    AlertRow,
    DecisionRow,
    campaign_funnel,
    care_score_by_week,
    response_times,
)
from store_server.vocabulary import HelpStatus


def store_report(session: Session, store_id: int) -> dict[str, Any]:
    """What happened in this store: aggregates only, no shopper is named."""
    store = session.get(Store, store_id)
    assert store is not None  # noqa: S101 - the caller checked a staffer of it
    decisions = [
        DecisionRow(
            campaign_id,
            shopper_id,
            outcome,
            decided_at,
            redeemed_at is not None,
            delivered_by,
            seen_at is not None,
        )
        for (
            campaign_id,
            shopper_id,
            outcome,
            decided_at,
            redeemed_at,
            delivered_by,
            seen_at,
        ) in session.execute(
            select(
                CampaignDecision.campaign_id,
                CampaignDecision.shopper_id,
                CampaignDecision.outcome,
                CampaignDecision.decided_at,
                Coupon.redeemed_at,
                Delivery.channel,
                Delivery.seen_at,
            )
            .outerjoin(Coupon, Coupon.id == CampaignDecision.coupon_id)
            .outerjoin(Delivery, Delivery.decision_id == CampaignDecision.id)
            .where(CampaignDecision.store_id == store_id)
        )
    ]
    visit_starts: dict[int, list[float]] = defaultdict(list)
    for shopper_id, started_at in session.execute(
        select(Visit.shopper_id, Visit.started_at).where(Visit.store_id == store_id)
    ):
        visit_starts[shopper_id].append(started_at)
    names = dict(
        session.execute(
            select(Campaign.id, Campaign.name).where(Campaign.store_id == store_id)
        ).all()
    )
    funnel = campaign_funnel(decisions, visit_starts)
    alerts = [
        AlertRow(*row)
        for row in session.execute(
            select(
                PickupAlert.raised_at,
                PickupAlert.acknowledged_at,
                PickupAlert.handed_over_at,
                PickupAlert.escalation_level,
            ).where(PickupAlert.store_id == store_id)
        )
    ]
    help_requests = [
        AlertRow(*row)
        for row in session.execute(
            select(
                HelpRequest.raised_at,
                HelpRequest.acknowledged_at,
                # Only a close by staff ends the wait; an expiry is nobody helping.
                case((HelpRequest.status == HelpStatus.CLOSED, HelpRequest.closed_at)),
                HelpRequest.escalation_level,
            ).where(HelpRequest.store_id == store_id)
        )
    ]
    answers = session.execute(
        select(Survey.answered_at, Survey.score).where(
            Survey.store_id == store_id,
            Survey.answered_at.is_not(None),
            Survey.score.is_not(None),
        )
    ).all()
    beacons = session.scalars(
        select(Beacon).where(Beacon.store_id == store_id).order_by(Beacon.identifier)
    ).all()
    gateways = session.scalars(
        select(Gateway).where(Gateway.store_id == store_id).order_by(Gateway.id)
    ).all()
    out = {
        "store_id": store_id,
        "campaigns": [
            {"campaign_id": cid, "name": names.get(cid), **figures}
            for cid, figures in sorted(funnel.items())
        ],
        "pickups": response_times(alerts),
        "help_requests": response_times(help_requests),
        "care_score": care_score_by_week(
            ((a, s) for a, s in answers if a is not None and s is not None), store.timezone
        ),
        "beacons": [
            {
                "id": b.identifier,
                "kind": b.kind,
                "last_seen_at": b.last_seen_at,
                "battery_mv": b.battery_mv,
                "temperature_c": b.temperature_c,
                "telemetry_at": b.telemetry_at,
            }
            for b in beacons
        ],
        "gateways": [
            {
                "id": g.id,
                "last_heartbeat_at": g.last_heartbeat_at,
                "heartbeat": g.last_heartbeat,
            }
            for g in gateways
        ],
    }
    return out

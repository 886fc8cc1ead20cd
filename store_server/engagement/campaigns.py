"""Campaigns as managers keep them: a campaign and its versions (an edit adds a version)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.models import Campaign, CampaignVersion
from store_server.problems import DomainError, Refusal


def current_version(session: Session, campaign_id: int) -> CampaignVersion:
    """The campaign's highest version (every campaign has at least one)."""
    return session.scalars(
        select(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign_id)
        .order_by(CampaignVersion.version.desc())
        .limit(1)
    ).one()


def _add_version(
    session: Session, campaign: Campaign, terms: Mapping[str, Any], number: int, now: float
) -> None:
    session.add(CampaignVersion(campaign_id=campaign.id, version=number, created_at=now, **terms))
    session.flush()


def campaign_of(session: Session, store_id: int, campaign_id: int) -> Campaign:
    """A campaign of this store, or a refusal naming it unknown."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.store_id != store_id:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_campaign", f"no campaign {campaign_id} in this store"
        )
    return campaign


def create_campaign(
    session: Session, store_id: int, name: str, terms: Mapping[str, Any], now: float
) -> Campaign:
    """Create a campaign with its first version (active at once).

    Args:
        terms: the version's columns (trigger, offer, schedule, channels, ...).
    """
    campaign = Campaign(store_id=store_id, name=name, active=True, created_at=now)
    session.add(campaign)
    session.flush()
    _add_version(session, campaign, terms, 1, now)
    return campaign


def edit_campaign(
    session: Session,
    store_id: int,
    campaign_id: int,
    name: str,
    terms: Mapping[str, Any],
    now: float,
) -> Campaign:
    """Edit a campaign: a new version; coupons already issued keep theirs."""
    campaign = campaign_of(session, store_id, campaign_id)
    campaign.name = name
    latest = session.scalar(
        select(func.max(CampaignVersion.version)).where(CampaignVersion.campaign_id == campaign_id)
    )
    try:
        _add_version(session, campaign, terms, (latest or 0) + 1, now)
    except IntegrityError as exc:  # two edits at once collide on (campaign, version)
        raise DomainError(
            Refusal.CONFLICT,
            "concurrent_edit",
            "someone else edited this campaign; reload and retry",
        ) from exc
    return campaign


def store_campaigns(session: Session, store_id: int) -> Sequence[Campaign]:
    """The store's campaigns, oldest first."""
    return session.scalars(
        select(Campaign).where(Campaign.store_id == store_id).order_by(Campaign.id)
    ).all()


def set_active(session: Session, store_id: int, campaign_id: int, active: bool) -> Campaign:
    """Pause or resume a campaign."""
    campaign = campaign_of(session, store_id, campaign_id)
    campaign.active = active
    return campaign

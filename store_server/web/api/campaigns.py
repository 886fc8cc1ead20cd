"""The managers' campaign API: create, edit (a new version each time), list, pause, resume."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from store_server.db.models import Campaign, CampaignVersion
from store_server.engagement import campaigns
from store_server.vocabulary import StaffRole
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.campaigns import (
    AudienceIn,
    CampaignIn,
    CampaignOut,
    CampaignsOut,
    CampaignVersionOut,
)

bp = Blueprint("campaigns", __name__, url_prefix="/api/v1/stores")


def parse_campaign(payload: Any) -> CampaignIn:
    """Validate a campaign body, field by field and across fields (400 naming each field)."""
    body = parse_body(CampaignIn, payload)
    if problems := body.field_problems():
        raise ApiError(400, "invalid_body", "the request body is not valid", {"fields": problems})
    return body


def version_terms(body: CampaignIn, now: float) -> dict[str, Any]:
    """A campaign body as the columns of its new version."""
    return {
        "trigger": body.trigger,
        "zone": body.zone,
        "min_dwell_s": body.min_dwell_s,
        "audience": body.audience.model_dump(exclude_none=True) if body.audience else None,
        "offer_text": body.offer_text,
        "percent_off": body.percent_off,
        "amount_off_cents": body.amount_off_cents,
        "product_scope": body.product_scope,
        "valid_minutes": body.valid_minutes,
        "valid_until": body.valid_until,
        "starts_at": body.starts_at if body.starts_at is not None else now,
        "ends_at": body.ends_at,
        "days": sorted(body.days) if body.days else None,
        "daily_start": body.daily_start,
        "daily_end": body.daily_end,
        "channels": list(body.channels),
        "holdout_share": body.holdout_share,
        "max_per_shopper": body.max_per_shopper,
    }


def version_out(version: CampaignVersion) -> CampaignVersionOut:
    """A version as the API shows it."""
    return CampaignVersionOut(
        id=version.id,
        version=version.version,
        trigger=version.trigger,  # type: ignore[arg-type]  # validated on the way in
        zone=version.zone,
        min_dwell_s=version.min_dwell_s,
        audience=AudienceIn.model_validate(version.audience) if version.audience else None,
        offer_text=version.offer_text,
        percent_off=version.percent_off,
        amount_off_cents=version.amount_off_cents,
        product_scope=version.product_scope,
        valid_minutes=version.valid_minutes,
        valid_until=version.valid_until,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
        days=version.days,
        daily_start=version.daily_start,
        daily_end=version.daily_end,
        channels=version.channels,  # type: ignore[arg-type]  # validated on the way in
        holdout_share=version.holdout_share,
        max_per_shopper=version.max_per_shopper,
        created_at=version.created_at,
    )


def campaign_out(session: Session, campaign: Campaign) -> CampaignOut:
    """A campaign with its current version."""
    return CampaignOut(
        id=campaign.id,
        store_id=campaign.store_id,
        name=campaign.name,
        active=campaign.active,
        created_at=campaign.created_at,
        current=version_out(campaigns.current_version(session, campaign.id)),
    )


@bp.post("/<int:store_id>/campaigns")
@documented(
    "Create a campaign with its first version (managers)",
    body=CampaignIn,
    answer=CampaignOut,
    status=201,
    errors=(400, 401, 403),
)
def create_campaign(store_id: int) -> tuple[Response, int]:
    """Create a campaign with its first version (active at once)."""
    authorise(store_id, StaffRole.MANAGER)
    body = parse_campaign(request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        campaign = campaigns.create_campaign(
            session, store_id, body.name, version_terms(body, now), now
        )
        out = campaign_out(session, campaign)
    return jsonify(out.model_dump()), 201


@bp.put("/<int:store_id>/campaigns/<int:campaign_id>")
@documented(
    "Edit a campaign: a new version; issued coupons keep theirs (managers)",
    body=CampaignIn,
    answer=CampaignOut,
    errors=(400, 401, 403, 404, 409),
)
def edit_campaign(store_id: int, campaign_id: int) -> tuple[Response, int]:
    """Edit a campaign: a new version; coupons already issued keep theirs."""
    authorise(store_id, StaffRole.MANAGER)
    body = parse_campaign(request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        campaign = campaigns.edit_campaign(
            session, store_id, campaign_id, body.name, version_terms(body, now), now
        )
        out = campaign_out(session, campaign)
    return jsonify(out.model_dump()), 200


@bp.get("/<int:store_id>/campaigns")
@documented(
    "The store's campaigns with their current versions (managers)",
    answer=CampaignsOut,
    errors=(401, 403),
)
def list_campaigns(store_id: int) -> tuple[Response, int]:
    """The store's campaigns with their current versions, oldest first."""
    authorise(store_id, StaffRole.MANAGER)
    with services().db.sessions() as session:
        found = campaigns.store_campaigns(session, store_id)
        out = CampaignsOut(campaigns=[campaign_out(session, c) for c in found])
    return jsonify(out.model_dump()), 200


def _set_active(store_id: int, campaign_id: int, active: bool) -> tuple[Response, int]:
    authorise(store_id, StaffRole.MANAGER)
    with services().db.transaction() as session:
        campaign = campaigns.set_active(session, store_id, campaign_id, active)
        out = campaign_out(session, campaign)
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/campaigns/<int:campaign_id>/pause")
@documented("Pause a campaign (managers)", answer=CampaignOut, errors=(401, 403, 404))
def pause_campaign(store_id: int, campaign_id: int) -> tuple[Response, int]:
    """Stop deciding for this campaign until resumed (issued coupons stay valid)."""
    return _set_active(store_id, campaign_id, False)


@bp.post("/<int:store_id>/campaigns/<int:campaign_id>/resume")
@documented("Resume a paused campaign (managers)", answer=CampaignOut, errors=(401, 403, 404))
def resume_campaign(store_id: int, campaign_id: int) -> tuple[Response, int]:
    """Decide for this campaign again."""
    return _set_active(store_id, campaign_id, True)

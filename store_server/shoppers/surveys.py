"""The one-question survey a shopper answers once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import PickupOrder, Survey
from store_server.engagement import engine as engagement
from store_server.messaging.outbound import Job, Reach
from store_server.pickup.alerts import SURVEY_QUESTION
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import CampaignTrigger


@dataclass(frozen=True)
class PendingSurvey:
    """A survey the shopper was sent and has not answered yet."""

    survey_id: int
    store_id: int
    order_number: str | None
    question: str
    sent_at: float


def pending_surveys(session: Session, shopper_id: int) -> list[PendingSurvey]:
    """The shopper's unanswered surveys, oldest first (one per survey, whatever the asks)."""
    rows = session.execute(
        select(Survey, PickupOrder.number)
        .outerjoin(PickupOrder, PickupOrder.id == Survey.order_id)
        .where(Survey.shopper_id == shopper_id, Survey.answered_at.is_(None))
        .order_by(Survey.id)
    ).all()
    return [
        PendingSurvey(s.id, s.store_id, number, SURVEY_QUESTION, s.sent_at) for s, number in rows
    ]


def answer_survey(
    session: Session,
    shopper_id: int,
    survey_id: int,
    score: int,
    comment: str | None,
    now: float,
    reach: Reach,
) -> list[Job]:
    """Record the answer, once; returns the offers the `survey_answered` trigger queues."""
    result = session.execute(
        update(Survey)
        .where(
            Survey.id == survey_id,
            Survey.shopper_id == shopper_id,
            Survey.answered_at.is_(None),
        )
        .values(score=score, comment=comment, answered_at=now)
    )
    survey = session.get(Survey, survey_id)
    if rows_changed(result) != 1 or survey is None:
        if survey is None or survey.shopper_id != shopper_id:
            raise DomainError(Refusal.NOT_FOUND, "unknown_survey", f"no survey {survey_id} for you")
        raise DomainError(Refusal.CONFLICT, "already_answered", "this survey was already answered")
    return engagement.on_trigger(
        session,
        survey.store_id,
        shopper_id,
        engagement.Trigger(CampaignTrigger.SURVEY_ANSWERED),
        now,
        reach,
    )

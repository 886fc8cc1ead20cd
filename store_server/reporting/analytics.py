"""What worked, computed from plain rows (pure): the campaign funnel and lift against the
holdout, pickup and help-request wait and staff response times, and the care score per week."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# A shopper who comes back within a week of an offer counts as returned: long enough for a
# weekly shop, short enough that the offer still plausibly played a part.
RETURN_WINDOW_S = 7 * 86400.0
# Answers of 9-10 are promoters in NPS; the care score this product starts from counts 8-10.
CARE_SCORE_MIN = 8


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class DecisionRow:
    """One logged decision."""

    campaign_id: int
    shopper_id: int
    outcome: str
    decided_at: float
    redeemed: bool
    delivered_by: str | None = None  # the channel that carried a sent offer, if any did
    seen: bool = False


def campaign_funnel(
    decisions: Iterable[DecisionRow], visit_starts: dict[int, list[float]]
) -> dict[int, dict[str, object]]:
    """Per campaign: outcomes, sent -> redeemed, and the return rate of sent vs holdout."""
    by_campaign: dict[int, list[DecisionRow]] = defaultdict(list)
    for row in decisions:
        by_campaign[row.campaign_id].append(row)
    report: dict[int, dict[str, object]] = {}
    for campaign_id, rows in by_campaign.items():
        outcomes: dict[str, int] = defaultdict(int)
        for row in rows:
            outcomes[row.outcome] += 1
        sent = [r for r in rows if r.outcome == "sent"]
        holdout = [r for r in rows if r.outcome == "holdout"]
        sent_rate = _return_rate(sent, visit_starts)
        holdout_rate = _return_rate(holdout, visit_starts)
        lift = (
            None
            if sent_rate is None or not holdout_rate
            else round(sent_rate / holdout_rate - 1, 3)
        )
        report[campaign_id] = {
            "outcomes": dict(outcomes),
            "sent": len(sent),
            "delivered": sum(r.delivered_by is not None for r in sent),
            "delivered_by": dict(Counter(r.delivered_by for r in sent if r.delivered_by)),
            # Sent, but no live channel carried it (yet): it waits in the shopper's inbox.
            "inbox_only": sum(r.delivered_by is None for r in sent),
            "seen": sum(r.seen for r in sent),
            "redeemed": sum(r.redeemed for r in sent),
            "redemption_rate": round(sum(r.redeemed for r in sent) / len(sent), 3)
            if sent
            else None,
            "returned_rate_sent": sent_rate,
            "returned_rate_holdout": holdout_rate,
            "lift": lift,
        }
    return report


def _return_rate(rows: Sequence[DecisionRow], visit_starts: dict[int, list[float]]) -> float | None:
    if not rows:
        return None
    returned = sum(
        any(
            row.decided_at < start <= row.decided_at + RETURN_WINDOW_S
            for start in visit_starts.get(row.shopper_id, ())
        )
        for row in rows
    )
    return round(returned / len(rows), 3)


@dataclass(frozen=True)
class AlertRow:
    """One alert's timestamps: a pickup alert (done = handed over) or a help request (closed)."""

    raised_at: float
    acknowledged_at: float | None
    done_at: float | None
    escalation_level: int


def response_times(alerts: Iterable[AlertRow]) -> dict[str, object]:
    """Staff response (raised -> on my way) and customer wait (raised -> handed over/closed)."""
    rows = list(alerts)
    response = [a.acknowledged_at - a.raised_at for a in rows if a.acknowledged_at is not None]
    wait = [a.done_at - a.raised_at for a in rows if a.done_at is not None]

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "alerts": len(rows),
        "escalated": sum(a.escalation_level > 0 for a in rows),
        "staff_response_p50_s": rounded(percentile(response, 0.5)),
        "staff_response_p95_s": rounded(percentile(response, 0.95)),
        "wait_p50_s": rounded(percentile(wait, 0.5)),
        "wait_p95_s": rounded(percentile(wait, 0.95)),
    }


def care_score_by_week(
    answers: Iterable[tuple[float, int]], timezone: str
) -> list[dict[str, object]]:
    """Per ISO week in the store's time zone: answers, and the share of them from 8 to 10."""
    zone = ZoneInfo(timezone)
    weeks: dict[str, list[int]] = defaultdict(list)
    for answered_at, score in answers:
        year, week, _ = datetime.fromtimestamp(answered_at, UTC).astimezone(zone).isocalendar()
        weeks[f"{year}-W{week:02d}"].append(score)
    return [
        {
            "week": week,
            "answers": len(scores),
            "care_score": round(sum(s >= CARE_SCORE_MIN for s in scores) / len(scores), 3),
        }
        for week, scores in sorted(weeks.items())
    ]

"""The one place that decides whether a message may be sent: pure, every input and `now` passed in.

`decide()` checks, in this order, and the first rule that says no gives the outcome:

1. ``expired``     the message's `expires_at` has passed: nothing left to offer.
2. ``no_consent``  no consent for the purpose, or none for any channel the campaign allows.
3. ``holdout``     offers only: the shopper is in the campaign's stable holdout share. Drawn
                   from the consented audience (the holdout must be comparable with the treated
                   group) and before suppression, caps, quiet hours and reachability, so the
                   split depends on nobody's timing: lift is measured intent-to-treat.
4. ``suppressed``  offers only: the shopper is on a pickup trip (until handover), or got an
                   offer less than `Policy.min_gap_s` ago.
5. ``capped``      offers only: the per-visit, per-calendar-day (shopper's time zone) or the
                   campaign's own per-shopper cap is reached.
6. ``quiet_hours`` offers only: local time is inside quiet hours; `hold_until` says when they
                   end. After the final drops: holding a message another rule drops anyway
                   would only postpone the drop.
7. ``unreachable`` consented, but no consented channel can carry the message now (no push
                   subscription, no number or address). In-app always can: an offer waits in
                   the shopper's inbox until her page opens. Checked only at sending time: a
                   held message is re-decided when released, and reachability then counts.
8. ``sent``        with the channels to try, in the campaign's order (the router falls back).

`release_held()` re-decides a held message when quiet hours end: expired by then means dropped
as ``expired``; otherwise every rule runs again (consent may have been revoked overnight, and a
new calendar day has its own cap).

Purpose ``arrival`` (pickup updates the shopper asked for by coming to collect) is
transactional: only expiry, consent and reachability apply. Quiet-hour and cap rules exist for
solicitations (47 CFR 64.1200(c)(1) is about telephone solicitations), and "Sam is on the way"
to someone waiting at the kerb at 21:15 is no solicitation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store_server.vocabulary import Channel, Purpose

Outcome = Literal[
    "sent", "capped", "quiet_hours", "no_consent", "unreachable", "holdout", "suppressed", "expired"
]

OUTCOMES: tuple[Outcome, ...] = (
    "sent",
    "capped",
    "quiet_hours",
    "no_consent",
    "unreachable",
    "holdout",
    "suppressed",
    "expired",
)
CHANNELS: tuple[Channel, ...] = tuple(Channel)
PURPOSES: tuple[Purpose, ...] = (Purpose.OFFERS, Purpose.ARRIVAL)

# Issue 8's defaults: at most 3 offers per calendar day and 1 per visit.
DEFAULT_MAX_OFFERS_PER_DAY = 3
DEFAULT_MAX_OFFERS_PER_VISIT = 1
# 21:00 to 09:00 local. The TCPA bars telephone solicitations before 08:00 and after 21:00 at
# the recipient's location (47 CFR 64.1200(c)(1)); some US states are stricter (Florida's
# FTSA, 2021: 20:00), so it is a setting. We start an hour later than the federal 08:00: an
# offer is never urgent, and a buzz before the working day is what shoppers call spam.
DEFAULT_QUIET_START = clock_time(21, 0)
DEFAULT_QUIET_END = clock_time(9, 0)
# Two offers less than half an hour apart feel like one pestering trip: it spans a walk-by
# followed by an entry and a typical store visit (the per-visit cap covers the visit itself).
DEFAULT_MIN_GAP_S = 30 * 60.0
# The holdout bucket comes from the first 8 bytes of BLAKE2b: uniform, stable across processes
# and Python versions (unlike hash()), and cheap.
HOLDOUT_HASH_BYTES = 8
_HOLDOUT_SCALE = float(1 << (8 * HOLDOUT_HASH_BYTES))
# Only sends this recent can share today's local date (a calendar day lasts at most 25 h, on
# the day summer time ends; a day of margin): older history needs no day bounds at all.
MAX_LOCAL_DAY_S = 49 * 3600.0
MIDNIGHT = clock_time(0, 0)


@dataclass(frozen=True, slots=True)
class Policy:
    """A store's offer rules, set by its manager (`engine.policy_of`; defaults from issue 8)."""

    max_offers_per_day: int = DEFAULT_MAX_OFFERS_PER_DAY
    max_offers_per_visit: int = DEFAULT_MAX_OFFERS_PER_VISIT
    quiet_start: clock_time = DEFAULT_QUIET_START
    quiet_end: clock_time = DEFAULT_QUIET_END  # equal to quiet_start: no quiet hours
    min_gap_s: float = DEFAULT_MIN_GAP_S


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class SentOffer:
    """An offer already sent to the shopper (holdout and dropped decisions are not sends)."""

    sent_at: float
    campaign_id: str
    visit_id: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the decision needs to know about one shopper, as of `now`.

    Args:
        consents: (purpose, channel) pairs the shopper said yes to.
        reachable: channels that can carry a message now: `app` always (the inbox keeps it
            until her page opens), `push` with a subscription, `sms` with a phone number,
            `email` with an address.
        on_pickup_trip: an order of theirs is ready or arrived and not yet handed over.
        history: offers sent to them; must cover at least the last two days, the current
            visit and every send of the campaigns being decided (for per-campaign caps).
    """

    shopper_id: int
    timezone: str
    consents: frozenset[tuple[Purpose, Channel]]
    reachable: frozenset[Channel]
    on_pickup_trip: bool = False
    history: tuple[SentOffer, ...] = ()

    def __post_init__(self) -> None:
        zone(self.timezone)  # an unknown zone fails here, in the shell, not at decision time


@dataclass(frozen=True, slots=True)
class Message:
    """A message someone wants to send.

    Args:
        campaign_id: the campaign's stable id (not its version: editing a campaign must not
            reshuffle its holdout).
        channels: the campaign's channel preference order.
        holdout_share: 0.0 to 1.0, the share of the audience that gets nothing.
        visit_id: the visit that triggered it (None for a walk-by).
        max_per_shopper: the campaign's own cap on offers per shopper (None: no cap).
    """

    campaign_id: str
    purpose: Purpose
    channels: tuple[Channel, ...]
    expires_at: float
    holdout_share: float = 0.0
    visit_id: int | None = None
    max_per_shopper: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdout_share <= 1.0:
            raise ValueError(f"holdout_share must be within 0..1, got {self.holdout_share}")


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one message, and why (the reason names no person)."""

    outcome: Outcome
    reason: str
    channel: Channel | None = None
    # The channels to try in order, first = `channel`; the router falls back along it.
    channels: tuple[Channel, ...] = field(default=())
    # For quiet_hours: when they end and the message may be re-decided by release_held().
    hold_until: float | None = None


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name; ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def holdout_bucket(campaign_id: str, shopper_id: int) -> float:
    """A stable, uniform number in [0, 1) for this campaign and shopper."""
    key = f"{campaign_id}\x1f{shopper_id}".encode()
    digest = hashlib.blake2b(key, digest_size=HOLDOUT_HASH_BYTES).digest()
    return int.from_bytes(digest, "big") / _HOLDOUT_SCALE


def in_holdout(campaign_id: str, shopper_id: int, share: float) -> bool:
    """Whether the shopper is in the campaign's holdout of that share."""
    return holdout_bucket(campaign_id, shopper_id) < share


def quiet_hours_end(now: float, tz: ZoneInfo, policy: Policy) -> float | None:
    """When the quiet hours containing `now` end (Unix seconds), or None outside them."""
    return _quiet_hours_end(datetime.fromtimestamp(now, tz), policy)


def _quiet_hours_end(local: datetime, policy: Policy) -> float | None:
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return None
    t = local.time()
    if start < end:  # a window inside one day, e.g. 12:00-14:00
        if not start <= t < end:
            return None
        end_day = local.date()
    else:  # wraps midnight, e.g. 21:00-09:00
        if end <= t < start:
            return None
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    # fold=0 and zoneinfo's gap handling give the first instant the wall clock shows `end`
    # (or the instant clocks jump past it), also on days that change to or from summer time.
    return datetime.combine(end_day, end, tzinfo=local.tzinfo).timestamp()


def local_day_bounds(local: datetime) -> tuple[float, float]:
    """Unix seconds of the start of `local`'s calendar day and of the next one (23 to 25 h)."""
    day = local.date()
    return (
        datetime.combine(day, MIDNIGHT, tzinfo=local.tzinfo).timestamp(),
        datetime.combine(day + timedelta(days=1), MIDNIGHT, tzinfo=local.tzinfo).timestamp(),
    )


def choose_channels(recipient: Recipient, message: Message) -> tuple[Channel, ...]:
    """The campaign's channels, in its order, that the shopper consented to and can get now."""
    return tuple(
        c
        for c in message.channels
        if (message.purpose, c) in recipient.consents and c in recipient.reachable
    )


def decide(
    recipient: Recipient, message: Message, now: float, policy: Policy = DEFAULT_POLICY
) -> Decision:
    """Decide whether `message` may go to `recipient` at `now`, on which channels, or why not."""
    if now >= message.expires_at:
        return Decision("expired", "the message expired before it could be sent")

    consented = [c for c in message.channels if (message.purpose, c) in recipient.consents]
    if not consented:
        if not any(p == message.purpose for p, _ in recipient.consents):
            return Decision("no_consent", f"no consent for {message.purpose}")
        return Decision(
            "no_consent",
            f"no consent for {message.purpose} on the campaign's channels "
            f"({', '.join(message.channels) or 'none'})",
        )

    if message.purpose == "offers":
        if message.holdout_share > 0.0 and in_holdout(
            message.campaign_id, recipient.shopper_id, message.holdout_share
        ):
            return Decision("holdout", f"in the campaign's {message.holdout_share:.0%} holdout")
        if (why := _suppression(recipient, now, policy)) is not None:
            return Decision("suppressed", why)
        local = datetime.fromtimestamp(now, zone(recipient.timezone))
        if (why := _cap(recipient, message, now, local, policy)) is not None:
            return Decision("capped", why)
        if (until := _quiet_hours_end(local, policy)) is not None:
            return Decision(
                "quiet_hours",
                f"quiet hours {policy.quiet_start:%H:%M}-{policy.quiet_end:%H:%M} "
                f"in {recipient.timezone}",
                hold_until=until,
            )

    channels = choose_channels(recipient, message)
    if not channels:
        return Decision(
            "unreachable", f"no consented channel reachable now ({', '.join(consented)})"
        )
    return Decision("sent", f"by {channels[0]}", channel=channels[0], channels=channels)


def release_held(
    held: Decision,
    recipient: Recipient,
    message: Message,
    now: float,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """Re-decide a message held for quiet hours at `now`: expired by then means dropped."""
    if held.outcome != "quiet_hours" or held.hold_until is None:
        raise ValueError(f"only a quiet_hours decision is held, not {held.outcome!r}")
    if now >= message.expires_at:
        return Decision("expired", "the message expired while held for quiet hours")
    if now < held.hold_until:
        return held
    return decide(recipient, message, now, policy)


def _suppression(recipient: Recipient, now: float, policy: Policy) -> str | None:
    if recipient.on_pickup_trip:
        return "on a pickup trip: no promotion until handover"
    last = _last_sent(recipient.history)
    if last is not None and now - last < policy.min_gap_s:
        ago, gap = int((now - last) // 60), int(policy.min_gap_s // 60)
        return f"an offer was sent {ago} min ago (minimum gap {gap} min)"
    return None


def _last_sent(history: Iterable[SentOffer]) -> float | None:
    return max((s.sent_at for s in history), default=None)


def _cap(
    recipient: Recipient, message: Message, now: float, local: datetime, policy: Policy
) -> str | None:
    history = recipient.history
    if not history:
        return None
    if message.visit_id is not None:
        in_visit = sum(1 for s in history if s.visit_id == message.visit_id)
        if in_visit >= policy.max_offers_per_visit:
            return f"{in_visit} offer(s) already this visit (cap {policy.max_offers_per_visit})"
    if any(now - s.sent_at < MAX_LOCAL_DAY_S for s in history):
        # The shopper's calendar day as two instants: comparing floats is correct across
        # summer-time changes and spares a time-zone conversion per past send.
        start, end = local_day_bounds(local)
        today_count = sum(1 for s in history if start <= s.sent_at < end)
        if today_count >= policy.max_offers_per_day:
            return (
                f"{today_count} offer(s) already on {local.date().isoformat()} in "
                f"{recipient.timezone} (cap {policy.max_offers_per_day})"
            )
    if message.max_per_shopper is not None:
        of_campaign = sum(1 for s in history if s.campaign_id == message.campaign_id)
        if of_campaign >= message.max_per_shopper:
            return (
                f"{of_campaign} offer(s) of this campaign already (cap {message.max_per_shopper})"
            )
    return None

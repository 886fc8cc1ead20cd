"""The decision point, table-driven: consent, holdout, suppression, caps, quiet hours, expiry."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from store_server.engagement.decide import (
    CHANNELS,
    DEFAULT_MIN_GAP_S,
    Decision,
    Message,
    Policy,
    Recipient,
    SentOffer,
    decide,
    holdout_bucket,
    in_holdout,
    release_held,
)
from store_server.vocabulary import Channel, Purpose

LA = "America/Los_Angeles"
UTC = "UTC"
HOUR = 3600.0
ALL: frozenset[tuple[Purpose, Channel]] = frozenset(
    (p, c) for p in (Purpose.OFFERS, Purpose.ARRIVAL) for c in CHANNELS
)


def at(
    tz: str,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> float:
    """Unix seconds of a wall-clock time in a zone."""
    return datetime(
        year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz), fold=fold
    ).timestamp()


def shopper(
    tz: str = LA,
    consents: frozenset[tuple[Purpose, Channel]] = ALL,
    reachable: tuple[Channel, ...] = CHANNELS,
    history: tuple[SentOffer, ...] = (),
    on_pickup_trip: bool = False,
    shopper_id: int = 7,
) -> Recipient:
    return Recipient(
        shopper_id=shopper_id,
        timezone=tz,
        consents=consents,
        reachable=frozenset(reachable),
        on_pickup_trip=on_pickup_trip,
        history=history,
    )


def offer(
    expires_at: float,
    channels: tuple[Channel, ...] = (Channel.APP, Channel.PUSH, Channel.SMS, Channel.EMAIL),
    **kw: object,
) -> Message:
    return Message(
        campaign_id="spring-dresses",
        purpose=kw.pop("purpose", Purpose.OFFERS),  # type: ignore[arg-type]
        channels=channels,
        expires_at=expires_at,
        **kw,  # type: ignore[arg-type]
    )


def sends(
    tz: str, *wall_times: tuple[int, ...], visit_id: int | None = None
) -> tuple[SentOffer, ...]:
    return tuple(SentOffer(at(tz, *w), "earlier", visit_id) for w in wall_times)


NOON_LA = at(LA, 2024, 6, 1, 12, 0)

# (name, recipient, message, now, expected outcome, expected channel)
CASES: list[tuple[str, Recipient, Message, float, str, str | None]] = [
    (
        "plain send picks the first channel",
        shopper(),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "sent",
        Channel.APP,
    ),
    (
        "campaign order wins over the shopper's list",
        shopper(),
        offer(NOON_LA + HOUR, (Channel.EMAIL, Channel.SMS)),
        NOON_LA,
        "sent",
        Channel.EMAIL,
    ),
    (
        "page closed: falls to push",
        shopper(reachable=(Channel.PUSH, Channel.EMAIL)),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "sent",
        Channel.PUSH,
    ),
    ("expired", shopper(), offer(NOON_LA), NOON_LA, "expired", None),
    (
        "expiry beats everything, even no consent",
        shopper(consents=frozenset()),
        offer(NOON_LA - 1),
        NOON_LA,
        "expired",
        None,
    ),
    (
        "no consent for offers at all",
        shopper(consents=frozenset({(Purpose.ARRIVAL, Channel.SMS)})),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "no_consent",
        None,
    ),
    (
        "consent only on a channel the campaign does not use",
        shopper(consents=frozenset({(Purpose.OFFERS, Channel.EMAIL)})),
        offer(NOON_LA + HOUR, (Channel.APP, Channel.PUSH)),
        NOON_LA,
        "no_consent",
        None,
    ),
    (
        "consented channel unreachable (no subscription, no address): not reachable now",
        shopper(
            consents=frozenset({(Purpose.OFFERS, Channel.PUSH), (Purpose.OFFERS, Channel.APP)}),
            reachable=(Channel.SMS,),
        ),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "unreachable",
        None,
    ),
    (
        "consent for sms but only for arrival: an offer may not use it",
        shopper(
            consents=frozenset({(Purpose.ARRIVAL, Channel.SMS), (Purpose.OFFERS, Channel.EMAIL)})
        ),
        offer(NOON_LA + HOUR, (Channel.SMS, Channel.EMAIL)),
        NOON_LA,
        "sent",
        Channel.EMAIL,
    ),
    (
        "on a pickup trip",
        shopper(on_pickup_trip=True),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "suppressed",
        None,
    ),
    (
        "pickup trip does not block the pickup update itself",
        shopper(on_pickup_trip=True),
        offer(NOON_LA + HOUR, purpose=Purpose.ARRIVAL),
        NOON_LA,
        "sent",
        Channel.APP,
    ),
    (
        "last offer 10 minutes ago",
        shopper(history=(SentOffer(NOON_LA - 600, "other"),)),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "suppressed",
        None,
    ),
    (
        "last offer just past the minimum gap",
        shopper(history=(SentOffer(NOON_LA - DEFAULT_MIN_GAP_S, "other"),)),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "sent",
        Channel.APP,
    ),
    (
        "one per visit",
        shopper(history=(SentOffer(NOON_LA - 2 * HOUR, "other", visit_id=5),)),
        offer(NOON_LA + HOUR, visit_id=5),
        NOON_LA,
        "capped",
        None,
    ),
    (
        "a new visit may get one",
        shopper(history=(SentOffer(NOON_LA - 2 * HOUR, "other", visit_id=5),)),
        offer(NOON_LA + HOUR, visit_id=6),
        NOON_LA,
        "sent",
        Channel.APP,
    ),
    (
        "three today already",
        shopper(history=sends(LA, (2024, 6, 1, 9, 5), (2024, 6, 1, 10, 0), (2024, 6, 1, 11, 0))),
        offer(NOON_LA + HOUR),
        NOON_LA,
        "capped",
        None,
    ),
    (
        "campaign's own cap",
        shopper(history=(SentOffer(NOON_LA - 50 * HOUR, "spring-dresses"),)),
        offer(NOON_LA + HOUR, max_per_shopper=1),
        NOON_LA,
        "capped",
        None,
    ),
    (
        "quiet hours in the evening",
        shopper(),
        offer(NOON_LA + 24 * HOUR),
        at(LA, 2024, 6, 1, 22, 30),
        "quiet_hours",
        None,
    ),
    (
        "quiet hours after midnight",
        shopper(),
        offer(NOON_LA + 24 * HOUR),
        at(LA, 2024, 6, 2, 3, 0),
        "quiet_hours",
        None,
    ),
    (
        "quiet hours end at 09:00 sharp",
        shopper(),
        offer(NOON_LA + 24 * HOUR),
        at(LA, 2024, 6, 2, 9, 0),
        "sent",
        Channel.APP,
    ),
    (
        "20:59 is still allowed",
        shopper(),
        offer(NOON_LA + 24 * HOUR),
        at(LA, 2024, 6, 1, 20, 59),
        "sent",
        Channel.APP,
    ),
    (
        "quiet hours are the shopper's, not the server's (noon UTC is 05:00 in LA)",
        shopper(),
        offer(NOON_LA + 24 * HOUR),
        at(UTC, 2024, 6, 1, 12, 0),
        "quiet_hours",
        None,
    ),
    (
        "arrival updates ignore quiet hours and caps",
        shopper(history=sends(LA, (2024, 6, 1, 9, 5), (2024, 6, 1, 10, 0), (2024, 6, 1, 11, 0))),
        offer(NOON_LA + 24 * HOUR, purpose=Purpose.ARRIVAL),
        at(LA, 2024, 6, 1, 22, 30),
        "sent",
        Channel.APP,
    ),
    (
        "capped beats quiet hours (a drop is final, a hold is not)",
        shopper(history=sends(LA, (2024, 6, 1, 9, 5), (2024, 6, 1, 10, 0), (2024, 6, 1, 11, 0))),
        offer(NOON_LA + 24 * HOUR),
        at(LA, 2024, 6, 1, 22, 30),
        "capped",
        None,
    ),
    (
        "no consent beats holdout",
        shopper(consents=frozenset()),
        offer(NOON_LA + HOUR, holdout_share=1.0),
        NOON_LA,
        "no_consent",
        None,
    ),
    (
        "nothing reachable at night: held, reachability counts when released",
        shopper(reachable=()),
        offer(NOON_LA + 24 * HOUR),
        at(LA, 2024, 6, 1, 22, 30),
        "quiet_hours",
        None,
    ),
    (
        "holdout does not depend on reachability",
        shopper(reachable=()),
        offer(NOON_LA + HOUR, holdout_share=1.0),
        NOON_LA,
        "holdout",
        None,
    ),
    (
        "holdout beats suppression and caps",
        shopper(on_pickup_trip=True),
        offer(NOON_LA + HOUR, holdout_share=1.0),
        NOON_LA,
        "holdout",
        None,
    ),
]


@pytest.mark.parametrize(
    ("recipient", "message", "now", "outcome", "channel"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decision_table(
    recipient: Recipient, message: Message, now: float, outcome: str, channel: str | None
) -> None:
    decision = decide(recipient, message, now)
    assert (decision.outcome, decision.channel) == (outcome, channel), decision.reason
    assert decision.reason
    if outcome == "sent":
        assert decision.channels[0] == channel
        assert set(decision.channels) <= recipient.reachable
    else:
        assert decision.channels == ()
    assert (decision.hold_until is not None) == (outcome == "quiet_hours")


# Caps across midnight: the same three sends and the same instant give different answers by
# the shopper's time zone, because the calendar day is theirs, not the server's (UTC).
# 23:00-23:20 UTC on 31 May is 16:00-16:20 in LA; 01:00 UTC on 1 June is 18:00 on 31 May there.
EVENING_UTC_SENDS = sends(UTC, (2024, 5, 31, 23, 0), (2024, 5, 31, 23, 10), (2024, 5, 31, 23, 20))
# 03:00-03:20 UTC on 1 June is 20:00-20:20 on 31 May in LA; 16:30 UTC is 09:30 on 1 June there.
NIGHT_UTC_SENDS = sends(UTC, (2024, 6, 1, 3, 0), (2024, 6, 1, 3, 10), (2024, 6, 1, 3, 20))
MIDNIGHT_CASES = [
    (
        "LA: same local day although the UTC date changed",
        LA,
        EVENING_UTC_SENDS,
        at(UTC, 2024, 6, 1, 1, 0),
        "capped",
    ),
    ("UTC shopper: a new day at 01:00", UTC, EVENING_UTC_SENDS, at(UTC, 2024, 6, 1, 10, 0), "sent"),
    (
        "LA: a new local day although the UTC date is the same",
        LA,
        NIGHT_UTC_SENDS,
        at(UTC, 2024, 6, 1, 16, 30),
        "sent",
    ),
    ("UTC shopper: same UTC day", UTC, NIGHT_UTC_SENDS, at(UTC, 2024, 6, 1, 16, 30), "capped"),
    # East of UTC: the sends were at 08:00-08:20 on 1 June in Tokyo, now is 10:00 there.
    (
        "Tokyo: 31 May in UTC is 1 June there",
        "Asia/Tokyo",
        EVENING_UTC_SENDS,
        at(UTC, 2024, 6, 1, 1, 0),
        "capped",
    ),
]


@pytest.mark.parametrize(
    ("tz", "history", "now", "outcome"),
    [c[1:] for c in MIDNIGHT_CASES],
    ids=[c[0] for c in MIDNIGHT_CASES],
)
def test_daily_cap_uses_the_shoppers_calendar_day(
    tz: str, history: tuple[SentOffer, ...], now: float, outcome: str
) -> None:
    decision = decide(shopper(tz=tz, history=history), offer(now + HOUR), now)
    assert decision.outcome == outcome, decision.reason


DST_CASES = [
    # 3 Nov 2024, LA falls back at 02:00 PDT -> 01:00 PST: a 25-hour day. Three sends before
    # 09:00+ on the long day and a fourth at 20:00 PST are all on 3 Nov: capped.
    (
        "fall back: the 25-hour day is one day",
        sends(LA, (2024, 11, 3, 9, 0), (2024, 11, 3, 10, 0), (2024, 11, 3, 11, 0)),
        at(LA, 2024, 11, 3, 20, 30),
        "capped",
    ),
    # Sent on 2 Nov in the evening (PDT), decided on 3 Nov morning (PST), 13 h later: new day.
    (
        "fall back: next morning is a new day",
        sends(LA, (2024, 11, 2, 18, 0), (2024, 11, 2, 19, 0), (2024, 11, 2, 20, 0)),
        at(LA, 2024, 11, 3, 9, 30),
        "sent",
    ),
    # 10 Mar 2024, LA springs forward at 02:00 -> 03:00: a 23-hour day.
    (
        "spring forward: the 23-hour day is one day",
        sends(LA, (2024, 3, 10, 9, 0), (2024, 3, 10, 10, 0), (2024, 3, 10, 11, 0)),
        at(LA, 2024, 3, 10, 20, 59),
        "capped",
    ),
    # 20:30 on 9 Mar to 09:01 on 10 Mar is only 11.5 real hours: a fixed-offset or 24-h
    # window would get this wrong; the calendar day changed.
    (
        "spring forward: the next morning is a new day",
        sends(LA, (2024, 3, 9, 18, 0), (2024, 3, 9, 19, 0), (2024, 3, 9, 20, 30)),
        at(LA, 2024, 3, 10, 9, 1),
        "sent",
    ),
]


@pytest.mark.parametrize(
    ("history", "now", "outcome"), [c[1:] for c in DST_CASES], ids=[c[0] for c in DST_CASES]
)
def test_daily_cap_on_summer_time_change_days(
    history: tuple[SentOffer, ...], now: float, outcome: str
) -> None:
    decision = decide(shopper(history=history), offer(now + HOUR), now)
    assert decision.outcome == outcome, decision.reason


QUIET_CASES = [
    # (name, zone, now, expected hold_until)
    ("evening: until 09:00 next day", LA, at(LA, 2024, 6, 1, 21, 0), at(LA, 2024, 6, 2, 9, 0)),
    (
        "after midnight: until 09:00 same day",
        LA,
        at(LA, 2024, 6, 2, 0, 30),
        at(LA, 2024, 6, 2, 9, 0),
    ),
    ("08:59:59", LA, at(LA, 2024, 6, 2, 8, 59, 59), at(LA, 2024, 6, 2, 9, 0)),
    # Spring forward: from 01:30 PST to 09:00 PDT is 6.5 real hours, not 7.5.
    ("spring-forward night", LA, at(LA, 2024, 3, 10, 1, 30), at(LA, 2024, 3, 10, 9, 0)),
    # Fall back: 01:30 happens twice; both are inside quiet hours and end at 09:00 PST.
    (
        "fall-back night, first 01:30",
        LA,
        at(LA, 2024, 11, 3, 1, 30, fold=0),
        at(LA, 2024, 11, 3, 9, 0),
    ),
    (
        "fall-back night, second 01:30",
        LA,
        at(LA, 2024, 11, 3, 1, 30, fold=1),
        at(LA, 2024, 11, 3, 9, 0),
    ),
    (
        "half-hour zone (Kolkata)",
        "Asia/Kolkata",
        at(UTC, 2024, 6, 1, 16, 0),
        at("Asia/Kolkata", 2024, 6, 2, 9, 0),
    ),
]


@pytest.mark.parametrize(
    ("tz", "now", "hold_until"), [c[1:] for c in QUIET_CASES], ids=[c[0] for c in QUIET_CASES]
)
def test_quiet_hours_hold_until_they_end(tz: str, now: float, hold_until: float) -> None:
    decision = decide(shopper(tz=tz), offer(now + 48 * HOUR), now)
    assert decision.outcome == "quiet_hours"
    assert decision.hold_until == hold_until
    assert decision.channel is None


def test_spring_forward_hold_is_measured_in_real_hours() -> None:
    decision = decide(shopper(), offer(at(LA, 2024, 3, 11)), at(LA, 2024, 3, 10, 1, 30))
    assert decision.hold_until is not None
    assert decision.hold_until - at(LA, 2024, 3, 10, 1, 30) == 6.5 * HOUR


@pytest.mark.parametrize(
    ("start", "end", "wall", "outcome"),
    [
        (time(12, 0), time(14, 0), (2024, 6, 1, 13, 0), "quiet_hours"),  # a daytime window
        (time(12, 0), time(14, 0), (2024, 6, 1, 22, 0), "sent"),
        (time(22, 0), time(22, 0), (2024, 6, 1, 23, 0), "sent"),  # start == end: none
        (time(20, 0), time(8, 0), (2024, 6, 1, 20, 30), "quiet_hours"),  # a stricter state
    ],
)
def test_quiet_hours_are_a_policy(
    start: time, end: time, wall: tuple[int, ...], outcome: str
) -> None:
    now = at(LA, *wall)
    decision = decide(shopper(), offer(now + HOUR), now, Policy(quiet_start=start, quiet_end=end))
    assert decision.outcome == outcome


def test_held_message_is_sent_when_quiet_hours_end_if_still_valid() -> None:
    night = at(LA, 2024, 6, 1, 23, 0)
    message = offer(at(LA, 2024, 6, 2, 12, 0))
    held = decide(shopper(), message, night)
    assert held.outcome == "quiet_hours" and held.hold_until == at(LA, 2024, 6, 2, 9, 0)
    assert release_held(held, shopper(), message, night + HOUR) == held  # still night
    released = release_held(held, shopper(), message, held.hold_until)
    assert (released.outcome, released.channel) == ("sent", Channel.APP)


def test_held_message_that_expired_overnight_is_dropped() -> None:
    night = at(LA, 2024, 6, 1, 21, 30)
    message = offer(night + 2 * HOUR)  # "20 % off dresses for the next two hours"
    held = decide(shopper(), message, night)
    assert held.outcome == "quiet_hours" and held.hold_until is not None
    released = release_held(held, shopper(), message, held.hold_until)
    assert released.outcome == "expired"
    assert "held" in released.reason


def test_held_message_is_re_decided_on_release() -> None:
    night = at(LA, 2024, 6, 1, 23, 0)
    message = offer(at(LA, 2024, 6, 2, 18, 0))
    held = decide(shopper(), message, night)
    assert held.hold_until is not None
    revoked = shopper(consents=frozenset({(Purpose.ARRIVAL, Channel.SMS)}))
    assert release_held(held, revoked, message, held.hold_until).outcome == "no_consent"
    # Yesterday's three offers do not count against the new day.
    busy = shopper(history=sends(LA, (2024, 6, 1, 9, 5), (2024, 6, 1, 10, 0), (2024, 6, 1, 11, 0)))
    assert release_held(held, busy, message, held.hold_until).outcome == "sent"


def test_release_refuses_what_was_not_held() -> None:
    message = offer(NOON_LA + HOUR)
    with pytest.raises(ValueError, match="held"):
        release_held(
            Decision("sent", "by app", Channel.APP, (Channel.APP,)), shopper(), message, NOON_LA
        )


def test_holdout_is_stable_and_deterministic() -> None:
    message = offer(NOON_LA + HOUR, holdout_share=0.5)
    first = [decide(shopper(shopper_id=i), message, NOON_LA).outcome for i in range(2000)]
    again = [decide(shopper(shopper_id=i), message, NOON_LA).outcome for i in range(2000)]
    assert first == again
    assert set(first) == {"sent", "holdout"}
    # Same bucket whatever the time, the channels, the history: it depends on the pair only.
    later = replace(message, channels=(Channel.EMAIL,), expires_at=NOON_LA + 90 * 86400)
    assert [
        decide(shopper(shopper_id=i, tz=UTC), later, NOON_LA + 30 * 86400).outcome
        for i in range(2000)
    ] == first
    # A value computed once pins the hash across processes and Python versions (hash() would
    # change with PYTHONHASHSEED and reshuffle every holdout on restart).
    assert holdout_bucket("spring-dresses", 7) == KNOWN_BUCKET
    assert holdout_bucket("spring-dresses", 8) != KNOWN_BUCKET


KNOWN_BUCKET = 0.641381384128354  # BLAKE2b-64 of "spring-dresses\x1f7", scaled to [0, 1)


@pytest.mark.parametrize("share", [0.05, 0.10, 0.5])
def test_holdout_share_is_close_to_configured_over_100k_shoppers(share: float) -> None:
    n = 100_000
    held = sum(in_holdout("spring-dresses", shopper_id, share) for shopper_id in range(n))
    # Binomial standard deviation at n = 100,000 is at most 0.16 %; allow 5 of them.
    assert abs(held / n - share) < 5 * (share * (1 - share) / n) ** 0.5


def test_holdouts_of_two_campaigns_are_independent() -> None:
    rng = random.Random(8)
    ids = rng.sample(range(10**9), 100_000)
    a = {i for i in ids if in_holdout("campaign-a", i, 0.1)}
    b = {i for i in ids if in_holdout("campaign-b", i, 0.1)}
    # Independent 10 % draws overlap on about 1 %, not on 10 % (the same shoppers every time).
    assert abs(len(a & b) / len(ids) - 0.01) < 0.002


def test_holdout_share_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="holdout_share"):
        offer(NOON_LA, holdout_share=1.5)


def test_unknown_time_zone_is_refused_when_building_the_recipient() -> None:
    with pytest.raises(ValueError, match="time zone"):
        shopper(tz="Mars/Olympus_Mons")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reasons_name_no_person(
    case: tuple[str, Recipient, Message, float, str, str | None],
) -> None:
    _, recipient, message, now, _, _ = case
    recipient = replace(recipient, shopper_id=918273645)
    assert "918273645" not in decide(recipient, message, now).reason  # not even the shopper id

"""Decisions per second of the decision point (`engagement.decide`) over a synthetic audience.

    python -m bench.decisions [--shoppers 100000] [--rounds 3] [--seed 8] [--json]

Each shopper gets one offer to decide, at a moment spread over a week (so about half fall in
someone's quiet hours). The audience is a seeded, plausible mix: eleven time zones weighted
towards the Americas and Europe; 70 % consented to offers on one to four channels; 30 % with
the shopper page open, push subscriptions for most push consents; 3 % on a pickup trip; zero to
six offers in the last two days, some in the current visit. Twenty campaigns with their own
channel orders, 10 % holdout, two-hour validity, some with a per-shopper cap. Building the
inputs is not timed; the figure is the best of the rounds (single core, one process). A second
row gives every shopper every consent and channel and no holdout, so every check runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from store_server.engagement.decide import (
    CHANNELS,
    PURPOSES,
    Message,
    Recipient,
    SentOffer,
    decide,
)
from store_server.vocabulary import Channel, Purpose

DEFAULT_SHOPPERS = 100_000
DEFAULT_ROUNDS = 3
DEFAULT_SEED = 8
CAMPAIGNS = 20
WEEK_START = 1_717_200_000.0  # 2024-06-01 00:00 UTC: a fixed week keeps runs comparable
WEEK_S = 7 * 86400.0
ZONES = {
    "America/New_York": 25,
    "America/Chicago": 12,
    "America/Denver": 5,
    "America/Los_Angeles": 15,
    "Europe/London": 10,
    "Europe/Berlin": 10,
    "Europe/Paris": 5,
    "Asia/Tokyo": 5,
    "Australia/Sydney": 5,
    "Asia/Kolkata": 3,
    "UTC": 5,
}
OFFER_CONSENT_SHARE = 0.7
CHANNEL_CONSENT = {"app": 0.8, "push": 0.5, "sms": 0.25, "email": 0.6}
PAGE_OPEN_SHARE = 0.3
PUSH_SUBSCRIBED_SHARE = 0.8
PICKUP_TRIP_SHARE = 0.03
HOLDOUT_SHARE = 0.10
VALIDITY_S = 2 * 3600.0


def audience(n: int, rng: random.Random) -> list[tuple[Recipient, Message, float]]:
    """n (recipient, message, now) triples, seeded."""
    zones, weights = list(ZONES), list(ZONES.values())
    campaigns = []
    for i in range(CAMPAIGNS):
        order = list(CHANNELS)
        rng.shuffle(order)
        campaigns.append((f"campaign-{i}", tuple(order[: rng.randint(2, 4)]), rng.random() < 0.3))
    cases = []
    for shopper_id in range(1, n + 1):
        consents: set[tuple[Purpose, Channel]] = {(Purpose.ARRIVAL, Channel.APP)}
        if rng.random() < OFFER_CONSENT_SHARE:
            consents |= {(Purpose.OFFERS, c) for c in CHANNELS if rng.random() < CHANNEL_CONSENT[c]}
        reachable: set[Channel] = {Channel.EMAIL} if rng.random() < 0.95 else set()
        if rng.random() < 0.9:
            reachable.add(Channel.SMS)
        if rng.random() < PAGE_OPEN_SHARE:
            reachable.add(Channel.APP)
        if (Purpose.OFFERS, Channel.PUSH) in consents and rng.random() < PUSH_SUBSCRIBED_SHARE:
            reachable.add(Channel.PUSH)
        now = WEEK_START + rng.random() * WEEK_S
        visit_id = shopper_id * 10 + rng.randint(0, 3)
        history = tuple(
            SentOffer(
                now - rng.random() * 48 * 3600.0,
                rng.choice(campaigns)[0],
                visit_id if rng.random() < 0.2 else None,
            )
            for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3, 4, 6)))
        )
        recipient = Recipient(
            shopper_id=shopper_id,
            timezone=rng.choices(zones, weights)[0],
            consents=frozenset(consents),
            reachable=frozenset(reachable),
            on_pickup_trip=rng.random() < PICKUP_TRIP_SHARE,
            history=history,
        )
        campaign_id, channels, capped = rng.choice(campaigns)
        message = Message(
            campaign_id=campaign_id,
            purpose=Purpose.OFFERS,
            channels=channels,
            expires_at=now + VALIDITY_S,
            holdout_share=HOLDOUT_SHARE,
            visit_id=visit_id if rng.random() < 0.8 else None,  # else a walk-by
            max_per_shopper=1 if capped else None,
        )
        cases.append((recipient, message, now))
    return cases


def full_path(
    cases: list[tuple[Recipient, Message, float]],
) -> list[tuple[Recipient, Message, float]]:
    """The same audience with every consent, channel and no holdout: every check runs."""
    everything = frozenset((p, c) for p in PURPOSES for c in CHANNELS)
    return [
        (
            replace(r, consents=everything, reachable=frozenset(CHANNELS), on_pickup_trip=False),
            replace(m, holdout_share=0.0),
            now,
        )
        for r, m, now in cases
    ]


def timed(cases: list[tuple[Recipient, Message, float]], rounds: int) -> dict[str, Any]:
    """Best-of-rounds rate of decide() over the cases, and the outcomes."""
    best = float("inf")
    outcomes: Counter[str] = Counter()
    for _ in range(rounds):
        start = time.perf_counter()
        decisions = [decide(r, m, now) for r, m, now in cases]
        best = min(best, time.perf_counter() - start)
        outcomes = Counter(d.outcome for d in decisions)
    return {
        "best_round_s": round(best, 4),
        "decisions_per_s": round(len(cases) / best),
        "us_per_decision": round(best / len(cases) * 1e6, 2),
        "outcomes": {k: outcomes[k] for k in sorted(outcomes)},
    }


def run(shoppers: int, rounds: int, seed: int) -> dict[str, Any]:
    """Time decide() over the realistic audience and over its every-check variant."""
    cases = audience(shoppers, random.Random(seed))
    return {
        "shoppers": shoppers,
        "rounds": rounds,
        "seed": seed,
        "mix": timed(cases, rounds),
        "full_path": timed(full_path(cases), rounds),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.decisions", description=__doc__)
    parser.add_argument("--shoppers", type=int, default=DEFAULT_SHOPPERS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.shoppers, args.rounds, args.seed)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"decide() over {result['shoppers']:,} shoppers, best of {result['rounds']} rounds, "
        f"Python {result['python']}, one core"
    )
    for name, about in (("mix", "realistic mix"), ("full_path", "every check runs")):
        row = result[name]
        print(f"{about}: {row['decisions_per_s']:,} decisions/s ({row['us_per_decision']} us each)")
        for outcome, count in row["outcomes"].items():
            print(f"  {outcome:<12} {count:>8,}  {count / result['shoppers']:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

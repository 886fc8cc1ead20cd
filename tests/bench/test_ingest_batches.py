"""The ingest bench's batches are what a gateway sends: every reading new to fusion."""

import json

from bench.ingest import BATCH, EIDS, PHONE_IDS, PHONES_PER_BATCH, batch_body


def test_a_batch_names_each_phone_once_at_its_time() -> None:
    now = 1_800_000_000.0
    phones = list(PHONE_IDS)[:PHONES_PER_BATCH]
    body = json.loads(batch_body(phones, BATCH // PHONES_PER_BATCH, now, EIDS.at(now, PHONE_IDS)))
    readings = body["observations"]
    assert len(readings) == BATCH
    assert len({r["frame"]["eid"] for r in readings}) == BATCH
    assert {r["seen_at"] for r in readings} == {now}


def test_the_next_batch_of_a_gateway_is_newer_for_every_phone() -> None:
    first, second = 1_800_000_000.0, 1_800_000_001.0
    phones = list(PHONE_IDS)[:PHONES_PER_BATCH]
    readings = [
        json.loads(batch_body(phones, BATCH // PHONES_PER_BATCH, t, EIDS.at(t, PHONE_IDS)))
        for t in (first, second)
    ]
    latest = {r["frame"]["eid"]: r["seen_at"] for r in readings[0]["observations"]}
    # The EIDs of one rotation window (1,024 s) name the same phones in both batches.
    assert all(r["seen_at"] > latest[r["frame"]["eid"]] for r in readings[1]["observations"])

"""A gateway batch's fast validation against `BatchIn`: the same batches, the same 400s."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store_server.web.errors import ApiError
from store_server.web.schemas import parse_body
from store_server.web.schemas.gateway_wire import Batch, BatchIn, _fast_batch, parse_batch
from tests.store_server.json_strategies import clean_json_values

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
FRAMES: list[dict[str, Any]] = [
    {"kind": "eddystone_eid", "eid": "0123456789abcdef", "tx_power": -20},
    {"kind": "ibeacon", "uuid": UUID, "major": 1, "minor": 65535, "power": -59},
    {
        "kind": "altbeacon",
        "company_id": 0x0118,
        "id1": UUID,
        "id2": 0,
        "id3": 7,
        "ref_rssi": -60,
        "reserved": 0,
    },
    {
        "kind": "eddystone_uid",
        "tx_power": -10,
        "namespace": "00112233445566778899",
        "instance": "aabbccddeeff",
    },
    {
        "kind": "eddystone_tlm",
        "battery_mv": 3000,
        "temperature_c": 21.5,
        "adv_count": 10,
        "uptime_s": 100,
    },
    {
        "kind": "eddystone_tlm",
        "battery_mv": 0,
        "temperature_c": None,
        "adv_count": 0,
        "uptime_s": 0.5,
    },
]


def _batch(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """A valid batch of these frames (copies: a test changes its batch, never FRAMES)."""
    observations: list[dict[str, Any]] = [
        {"seen_at": 1_700_000_000.25 + i, "rssi": -70, "frame": copy.deepcopy(frame)}
        for i, frame in enumerate(frames)
    ]
    observations[-1]["beacon_id"] = "ibeacon-1"
    return {"batch_id": "b-1", "sent_at": 1_700_000_001, "observations": observations}


def _by_pydantic(payload: Any) -> Batch | ApiError:
    try:
        batch = parse_body(BatchIn, payload)
    except ApiError as refused:
        return refused
    return Batch(batch.batch_id, [obs.heard() for obs in batch.observations])


def test_every_frame_kind_takes_the_fast_path_with_pydantic_values() -> None:
    payload = _batch(FRAMES)
    fast = _fast_batch(payload)
    assert fast is not None
    assert fast == _by_pydantic(payload)
    assert [type(h.seen_at) for h in fast.heard] == [float] * len(FRAMES)


# Each a change to a valid batch, and whether pydantic still takes it (then so may the fast
# path; otherwise parse_batch must give pydantic's 400).
CHANGES: list[tuple[str, Any, bool]] = [
    ("rssi", 21, False),
    ("rssi", -70.0, False),
    ("rssi", True, False),
    ("seen_at", 0, False),
    ("seen_at", True, False),
    ("seen_at", "1", False),
    ("seen_at", 2**63 - 1, True),
    ("beacon_id", "x" * 101, False),
    ("beacon_id", "caf\u00e9", True),
    ("beacon_id", "\ud800", False),
    ("beacon_id", None, True),
    ("extra", 1, False),
    ("frame.kind", "eddystone_url", False),
    ("frame.kind", ["ibeacon"], False),
    ("frame.eid", "0123456789ABCDEF", False),
    ("frame.eid", "0123456789abcdef\n", False),
    ("frame.tx_power", 128, False),
    ("frame.extra", 1, False),
    ("frame.-tx_power", None, False),
]


@pytest.mark.parametrize(("field", "value", "valid"), CHANGES)
def test_a_changed_batch_gets_pydantics_answer(field: str, value: Any, valid: bool) -> None:
    payload = _batch([FRAMES[0]])
    _change(payload["observations"][0], field, value)
    _same_answer_as_pydantic(payload, valid)


@pytest.mark.parametrize(
    ("field", "value", "valid"), [c for c in CHANGES if c[0].startswith("frame.")]
)
def test_an_eid_heard_again_is_checked_again(field: str, value: Any, valid: bool) -> None:
    """The fast path reads each EID's text once a batch: a later frame of it is still
    checked whole."""
    payload = _batch([FRAMES[0], FRAMES[0], FRAMES[1]])
    _change(payload["observations"][1], field, value)
    _same_answer_as_pydantic(payload, valid)


def _change(observation: dict[str, Any], field: str, value: Any) -> None:
    """Apply one of CHANGES to an observation: `frame.` names its frame's field, a leading
    `-` deletes the field."""
    target = observation
    if field.startswith("frame."):
        target, field = target["frame"], field.removeprefix("frame.")
    if field.startswith("-"):
        del target[field[1:]]
    else:
        target[field] = value


def _same_answer_as_pydantic(payload: Any, valid: bool) -> None:
    expected = _by_pydantic(payload)
    assert isinstance(expected, Batch) is valid
    _same_answer(payload, expected)


def _same_answer(payload: Any, expected: Batch | ApiError) -> None:
    fast = _fast_batch(payload)
    if isinstance(expected, ApiError):
        assert fast is None
        with pytest.raises(ApiError) as refused:
            parse_batch(payload)
        assert (refused.value.status, refused.value.code, refused.value.details) == (
            expected.status,
            expected.code,
            expected.details,
        )
    else:
        assert parse_batch(payload) == expected


@st.composite
def _mutated_batches(draw: st.DrawFn) -> Any:
    """A valid batch with values replaced or removed anywhere in it."""
    payload = _batch(draw(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=4)))
    payload = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = payload
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
            key = draw(st.sampled_from(keys))
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.integers(0, 4)) == 0:
                del node[key]
            else:
                node[key] = draw(clean_json_values())
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(clean_json_values())
    return payload


@settings(max_examples=400, deadline=None)
@given(_mutated_batches())
def test_the_fast_path_never_takes_what_pydantic_refuses(payload: Any) -> None:
    _same_answer(payload, _by_pydantic(payload))

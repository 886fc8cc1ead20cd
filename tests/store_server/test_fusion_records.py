"""Fusion's copy of its records (`fusion.replace`) and a batch's remembered states."""

from __future__ import annotations

import dataclasses

import pytest

from store_server.presence import fusion
from store_server.presence.fusion import Estimate, PersonState
from store_server.presence.visits import FusionStates
from store_server.vocabulary import PlaceKind, PresenceState

T0 = 1_764_054_000.0


def test_replace_makes_the_record_dataclasses_replace_makes_and_leaves_the_original() -> None:
    state = fusion.fuse(
        None,
        [fusion.GatewayReading("gw-door", fusion.Place(PlaceKind.ENTRANCE), -60, 0.0, T0)],
        fusion.FusionParams(),
        T0,
    ).state
    copied = fusion.replace(state, door_evidence=3.0, last_heard_at=T0 + 1, walk_by_reported=True)

    assert copied == dataclasses.replace(
        state, door_evidence=3.0, last_heard_at=T0 + 1, walk_by_reported=True
    )
    assert type(copied) is PersonState
    assert (state.door_evidence, state.last_heard_at) != (3.0, T0 + 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        copied.door_evidence = 4.0  # type: ignore[misc]
    estimate = Estimate(PresenceState.INSIDE, None, 0.5, ())
    assert fusion.replace(estimate, place="shoes") == Estimate(
        PresenceState.INSIDE, "shoes", 0.5, ()
    )


def test_replace_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(TypeError, match="no field visit_opened"):
        fusion.replace(PersonState(), visit_opened=True)


def test_a_batch_of_states_is_kept_and_read_back_by_store_and_shopper() -> None:
    states = FusionStates()
    kept = {1: PersonState(last_heard_at=T0), 2: PersonState(last_heard_at=T0 + 1)}

    states.put_all(7, kept)

    assert states.get_all(7, [1, 2, 3]) == kept  # shopper 3 was never heard
    assert states.get_all(8, [1, 2]) == {}  # nor anyone at another store

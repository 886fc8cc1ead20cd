"""Hypothesis strategies for arbitrary JSON request bodies, shared by the endpoint fuzz tests."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function, not a lambda: Hypothesis reads extend's source to check that it
    # recurses, and a multi-line lambda under pytest's assertion rewriting fails that check.
    return st.lists(children, max_size=5) | st.dictionaries(
        st.text(max_size=10), children, max_size=5
    )


def json_values(*, allow_nan: bool = False) -> st.SearchStrategy[Any]:
    """Any JSON value (NaN too if `allow_nan`: Python's json module reads and writes it)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=allow_nan)
        | st.text(max_size=20)
    )
    return st.recursive(scalars, _containers, max_leaves=20)


def clean_json_values() -> st.SearchStrategy[Any]:
    """JSON values every strict parse accepts: finite numbers within 64 bits, no NUL."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63) + 1, 2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(st.characters(blacklist_characters="\x00"), max_size=20)
    )
    return st.recursive(scalars, _containers_without_nul, max_leaves=20)


def _containers_without_nul(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.text(st.characters(blacklist_characters="\x00"), max_size=10)
    return st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5)


@st.composite
def _planted(draw: st.DrawFn, bad: st.SearchStrategy[Any]) -> Any:
    """A clean value with one `bad` value planted somewhere inside it (or as all of it)."""
    value = draw(bad)
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            siblings = draw(st.lists(clean_json_values(), max_size=3))
            siblings.insert(draw(st.integers(0, len(siblings))), value)
            value = siblings
        else:
            value = {draw(st.text(st.characters(blacklist_characters="\x00"), max_size=5)): value}
    return value


def _nul_text() -> st.SearchStrategy[str]:
    return st.builds(
        lambda head, tail: head + "\x00" + tail, st.text(max_size=5), st.text(max_size=5)
    )


@st.composite
def _too_deep(draw: st.DrawFn, max_depth: int) -> str:
    depth = draw(st.integers(max_depth + 1, 3 * max_depth) | st.integers(1_000, 100_000))
    inner = json.dumps(draw(clean_json_values()))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return opener * depth + inner + closer * depth


def hostile_json_texts(max_depth: int) -> st.SearchStrategy[tuple[str, str]]:
    """(JSON text, the error code a strict parse must answer): non-finite or huge numbers,
    NUL in a string or a key, nesting deeper than `max_depth`."""
    non_finite = _planted(
        st.sampled_from([math.inf, -math.inf, math.nan]) | st.integers(2**63, 2**80)
    ).map(lambda v: (json.dumps(v), "invalid_json"))
    nul_string = _planted(_nul_text()).map(lambda v: (json.dumps(v), "nul_character"))
    nul_key = _planted(st.builds(lambda k, v: {k: v}, _nul_text(), clean_json_values())).map(
        lambda v: (json.dumps(v), "nul_character")
    )
    deep = _too_deep(max_depth).map(lambda text: (text, "too_deep"))
    return non_finite | nul_string | nul_key | deep

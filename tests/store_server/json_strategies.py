"""Hypothesis strategies for arbitrary JSON request bodies, shared by the endpoint fuzz tests."""

from __future__ import annotations

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

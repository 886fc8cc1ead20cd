"""Every measurement `python -m bench NAME` lists can be dispatched: main(argv=None) -> int."""

from __future__ import annotations

import importlib
import inspect

import pytest

from bench.__main__ import BENCHES


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_main_takes_argv(name: str) -> None:
    main = importlib.import_module(BENCHES[name][0]).main
    parameters = list(inspect.signature(main).parameters.values())
    assert [p.name for p in parameters] == ["argv"]
    assert parameters[0].default is None

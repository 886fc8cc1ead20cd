"""How `store-server run` configures gunicorn (test_settings.py refuses bad serving settings)."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from bench.stack import BIN, Stack
from store_server.serving import (
    GEVENT_CONNECTIONS,
    GTHREAD_THREADS,
    WORKER_GC_THRESHOLDS,
    GunicornServer,
    worker_gc_policy,
)
from store_server.settings import StoreSettings


def test_gevent_is_the_default_with_one_worker_and_no_access_log() -> None:
    cfg = GunicornServer(StoreSettings(host="127.0.0.1", port=5123)).cfg
    assert cfg.worker_class_str == "gevent"
    assert (cfg.workers, cfg.worker_connections) == (1, GEVENT_CONNECTIONS)
    assert cfg.bind == ["127.0.0.1:5123"]
    assert cfg.accesslog is None
    assert cfg.control_socket_disable is True


def test_gthread_gets_a_thread_and_a_connection_slot_per_socket() -> None:
    cfg = GunicornServer(StoreSettings(server_worker="gthread")).cfg
    assert cfg.worker_class_str == "gthread"
    assert cfg.threads == cfg.worker_connections == GTHREAD_THREADS


@pytest.fixture
def gc_restored() -> Iterator[None]:
    """The test process's collector as it was, after a test that set the worker's policy."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_worker_sets_its_gc_policy_once_the_app_is_loaded() -> None:
    for worker in ("gevent", "gthread"):
        cfg = GunicornServer(StoreSettings(server_worker=worker)).cfg
        assert cfg.post_worker_init is worker_gc_policy


@pytest.mark.usefixtures("gc_restored")
def test_the_gc_policy_freezes_what_start_up_left_and_raises_the_first_threshold() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    loaded = [object(), [], {}]  # stands for the app loaded before the hook
    worker_gc_policy()
    assert gc.get_threshold() == WORKER_GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(item is loaded[1] for item in gc.get_objects())  # frozen, walked no more


def test_a_server_whose_port_is_taken_never_says_it_is_listening(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "STORE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "STORE_VAR_DIR": str(tmp_path / "var"),
            "STORE_PORT": str(port),
        }
        run = subprocess.run(  # noqa: S603 - our own console script
            [str(BIN / "store-server"), "run"], env=env, capture_output=True, text=True, timeout=60
        )
    assert run.returncode != 0
    assert "Connection in use" in run.stdout + run.stderr
    assert "listening on" not in run.stdout + run.stderr


def test_the_test_stack_picks_another_port_when_its_own_was_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with Stack(tmp_path / "stack") as stack:
            stack.port = taken.getsockname()[1]  # as if another process took it first
            stack.url = f"http://127.0.0.1:{stack.port}"
            stack.start_server()
            assert stack.port != taken.getsockname()[1]
            assert urlopen(f"{stack.url}/readyz", timeout=10).status == 200  # noqa: S310

"""How `store-server run` configures gunicorn (test_settings.py refuses bad serving settings)."""

from __future__ import annotations

from store_server.serving import GEVENT_CONNECTIONS, GTHREAD_THREADS, GunicornServer
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

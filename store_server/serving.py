"""How `store-server run` serves: gunicorn, one worker, the worker class chosen by measurement.

docs/decisions.md ("Production serving") has the figures behind the default. Socket.IO keeps
a tablet's session in the process it connected to, so one worker serves everything; several
processes need the message queue and sticky sessions (docs/deployment.md).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from store_server.logs import gunicorn_log_config
from store_server.settings import StoreSettings

WSGI_APP = "store_server.wsgi:app"
# Threads of a gthread worker: every connected tablet or shopper page holds one for as long as
# its WebSocket is open, so this caps the connections a gthread worker can serve.
GTHREAD_THREADS = 5000
# Greenlets of a gevent worker: the same cap, far cheaper per connection.
GEVENT_CONNECTIONS = 10000
# On SIGTERM, open WebSockets never finish by themselves: give requests in flight this long,
# then close the rest (tablets reconnect by themselves to the next process).
GRACEFUL_TIMEOUT_S = 5
# The worker's garbage collector (docs/decisions.md, "Fan-out to 4,000 tablets on one process:
# the collector"). A collection stops every greenlet, the fan-out's socket writers included, and
# a full one walks every object of the process: with 4,000 tablets connected, 0.7-1.3 s.
# Python's first threshold, 700 allocations, collected the young generation about ten times
# during each arrival's ingest and fan-out, so their short-lived objects were still alive at two
# collections in a row, reached the old generation and soon made it due for a full collection.
# At 50,000 a request's and a fan-out's temporaries are freed by their reference counts before
# any collection sees them (none ran during eight arrivals to 4,000 tablets), and the young
# generation stays a few megabytes.
WORKER_GC_THRESHOLDS = (50_000, 10, 10)


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from the store's settings, loading `store_server.wsgi:app`."""

    def __init__(self, settings: StoreSettings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        """gunicorn's settings, from ours (no gunicorn.conf.py is read)."""
        settings = self._settings
        options: dict[str, Any] = {
            "bind": [f"{settings.host}:{settings.port}"],
            "workers": 1,
            "worker_class": settings.server_worker,
            "graceful_timeout": GRACEFUL_TIMEOUT_S,
            # A WebSocket or a long-poll holds its request open; the worker is alive regardless.
            "timeout": 0 if settings.server_worker == "gthread" else 30,
            # The access log would carry tokens and coupon codes in URLs: our own log lines
            # name what happened instead.
            "accesslog": None,
            "errorlog": "-",
            "loglevel": settings.log_level.lower(),
            "logconfig_dict": gunicorn_log_config(settings.log_level, settings.log_format),
            # Forwarded headers are trusted by the app's ProxyFix (STORE_TRUSTED_PROXIES), not here.
            "forwarded_allow_ips": "",
            # No control socket: it lives in the home directory, shared by every server there.
            "control_socket_disable": True,
        }
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            options["child_exit"] = _forget_worker_gauges
        options["post_worker_init"] = worker_gc_policy
        options["when_ready"] = self._say_listening
        # gunicorn's worker_connections caps open connections for both classes (default 1,000:
        # a thousand connected tablets would leave no room for a gateway's batch).
        if settings.server_worker == "gthread":
            options["threads"] = GTHREAD_THREADS
            options["worker_connections"] = GTHREAD_THREADS
        else:
            options["worker_connections"] = GEVENT_CONNECTIONS
        for key, value in options.items():
            self.cfg.set(key, value)

    def _say_listening(self, _arbiter: Any) -> None:
        """Printed once the address is bound: while another process holds the port, gunicorn
        retries for five seconds, and whoever probes the port meanwhile talks to that one."""
        settings = self._settings
        print(
            f"{listening_line(settings.host, settings.port)}(gunicorn, {settings.server_worker})",
            flush=True,
        )

    def load(self) -> Any:
        """Import the app in the worker, after gevent has patched the standard library."""
        from store_server.app import create_served_app

        return create_served_app(self._settings)


def listening_line(host: str, port: int) -> str:
    """How the line `store-server run` prints once it holds its address begins (whoever starts
    a server waits for it before probing the port)."""
    return f"store server listening on http://{host}:{port} "


def worker_gc_policy(_worker: Any = None) -> None:
    """Once the worker has loaded the app: collect what start-up left, move every object alive
    then (modules, the app, SQLAlchemy's mappers, some 165,000 objects) to the collector's
    permanent generation, which no collection walks again, and raise the first threshold
    (WORKER_GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)


def _forget_worker_gauges(_server: Any, worker: Any) -> None:
    """A worker ended: its live gauges (connected sockets) no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def serve(settings: StoreSettings) -> None:
    """Serve until SIGTERM or SIGINT.

    With `PROMETHEUS_MULTIPROC_DIR` set, the metrics files of a previous run are removed first
    (prometheus_client requires an empty directory at start).
    """
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        for stale in Path(multiproc_dir).glob("*.db"):
            stale.unlink()
    GunicornServer(settings).run()

"""The WSGI entry point: `store_server.wsgi:app`, for gunicorn (`store-server run` uses it).

    gunicorn -k gevent -w 1 -b 127.0.0.1:5000 store_server.wsgi:app

Settings come from `STORE_*` variables; with `STORE_RUN_SCHEDULER=1` (the default) the process
that loads this module also runs the sweep, so exactly one process of a deployment may.
"""

from __future__ import annotations

from store_server.app import create_served_app

app = create_served_app()

"""The ceiling for the fan-out bench: a bare Flask-SocketIO app, served like the store server
(gunicorn, one worker, the same worker class and so the same async mode), that emits a given
payload to one room as soon as it is asked.

    gunicorn -k gevent -w 1 -b 127.0.0.1:N bench.fanout_bare:app
    FANOUT_QUEUE=redis://... FANOUT_CHANNEL=... gunicorn ...   # one of several processes
"""

from __future__ import annotations

import os

from flask import Flask, request
from flask_socketio import SocketIO, join_room

from store_server.web.realtime import async_mode

ROOM = "tablets"

app = Flask(__name__)
# Several processes of the bare app share a Redis queue as the store server's do (bench
# fanout --processes 2): FANOUT_QUEUE is its URL, FANOUT_CHANNEL the run's own channel.
socketio = SocketIO(
    app,
    async_mode=async_mode(),
    message_queue=os.environ.get("FANOUT_QUEUE") or None,
    channel=os.environ.get("FANOUT_CHANNEL", "flask-socketio"),
)


@socketio.on("connect")  # type: ignore[untyped-decorator]
def _connect(auth: object = None) -> None:
    join_room(ROOM)


@app.post("/emit")
def emit() -> tuple[str, int]:
    """Emit the posted JSON to every connected client."""
    socketio.emit("arrival", request.get_json(), to=ROOM)
    return "", 204


@app.get("/healthz")
def health() -> tuple[str, int]:
    """Up."""
    return "ok", 200

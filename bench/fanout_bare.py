"""The ceiling for the fan-out bench: a bare Flask-SocketIO app (same mode, same server) that
emits a given payload to one room as soon as it is asked.

    python -m bench.fanout_bare --port N
"""

from __future__ import annotations

import argparse

from flask import Flask, request
from flask_socketio import SocketIO, join_room

ROOM = "tablets"


def main(argv: list[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_bare")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")

    @socketio.on("connect")  # type: ignore[untyped-decorator]
    def _connect(auth: object = None) -> None:
        join_room(ROOM)

    @app.post("/emit")
    def emit() -> tuple[str, int]:
        socketio.emit("arrival", request.get_json(), to=ROOM)
        return "", 204

    @app.get("/healthz")
    def health() -> tuple[str, int]:
        return "ok", 200

    print(f"bare app listening on 127.0.0.1:{args.port}", flush=True)
    socketio.run(
        app, host="127.0.0.1", port=args.port, allow_unsafe_werkzeug=True, log_output=False
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The message queue several server processes share (Redis): checked before anything starts.

No Flask here: `store-server run` checks the queue in gunicorn's master, before any worker
imports the web layer, and `web.realtime` checks it again when it binds Socket.IO.
"""

from __future__ import annotations

from store_server.settings import SettingsError

# How long the start waits for the message queue's Redis to answer before refusing to start.
QUEUE_CHECK_TIMEOUT_S = 3.0


def check_message_queue(url: str) -> None:
    """Refuse to start with a message queue that cannot work: without it every event of this
    process would silently stay in this process.

    Raises:
        SettingsError: the `redis` package is missing, or the Redis server does not answer.
    """
    try:
        import redis
    except ImportError as exc:
        raise SettingsError(
            "STORE_SOCKETIO_MESSAGE_QUEUE is set but the redis package is missing: "
            "pip install 'instore-engagement[cluster]'"
        ) from exc
    client = redis.Redis.from_url(
        url, socket_timeout=QUEUE_CHECK_TIMEOUT_S, socket_connect_timeout=QUEUE_CHECK_TIMEOUT_S
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise SettingsError(
            f"STORE_SOCKETIO_MESSAGE_QUEUE does not answer ({type(exc).__name__})"
        ) from exc
    finally:
        client.close()

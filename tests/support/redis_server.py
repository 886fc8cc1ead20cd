"""A private `redis-server` on a loopback port, for the fault tests: stopped and started by the
test, never the machine's shared one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import redis

from bench.stack import free_port
from tests.support.polling import wait_until

# A Redis with nothing to load starts in milliseconds; seconds means a busy machine.
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


def available() -> bool:
    """Whether Debian's redis-server is installed (`make test-setup` installs it)."""
    return shutil.which("redis-server") is not None


class PrivateRedis:
    """One `redis-server --port N --save ''` in `workdir`; `stop` and `start` keep the port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again, on the same port) and return once it answers."""
        if self._process is not None:
            raise RuntimeError("the private redis-server is already running")
        with (self.workdir / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - Debian's redis-server, our args
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],  # fmt: skip
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(self.answers, START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """Stop it (SIGTERM, by its own PID) and wait until it has exited."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def answers(self) -> bool:
        """Whether it answers PING now."""
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

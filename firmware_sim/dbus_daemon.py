"""A private dbus-daemon, typed as a system bus, that lives exactly as long as its owner."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import shutil
import signal
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

logger = logging.getLogger(__name__)

DBUS_DAEMON = "/usr/bin/dbus-daemon"
# Starting the daemon takes a few milliseconds; a busy CI machine gets generous slack.
START_TIMEOUT_S = 10.0
# A daemon that ignores SIGTERM this long is killed.
STOP_TIMEOUT_S = 5.0
# Bytes the daemon queues per connection before it drops messages for a slow reader:
# far above a scenario's rate, small enough that a stalled scanner cannot eat the machine.
MAX_QUEUED_BYTES = 64 * 1024 * 1024
# The daemon's complaints (it cannot raise its fd limit unprivileged) go here, not to our stderr.
STDERR_FILE = "dbus-daemon.log"
# prctl(PR_SET_PDEATHSIG): the kernel signals the daemon when the simulator dies, even by SIGKILL.
PR_SET_PDEATHSIG = 1

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <allow_anonymous/>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_bytes">{max_bytes}</limit>
  <limit name="max_outgoing_bytes">{max_bytes}</limit>
</busconfig>
"""


class DbusDaemonError(Exception):
    """The private dbus-daemon could not be started."""


def daemon_config(socket_path: Path) -> str:
    """The bus configuration of a private, permissive system-type bus at `socket_path`."""
    return _CONFIG.format(socket=escape(str(socket_path)), max_bytes=MAX_QUEUED_BYTES)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to end it with its parent.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DbusDaemon:
    """Starts and stops one private dbus-daemon; `address` is valid between start and stop."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._directory: Path | None = None
        self.address = ""

    @property
    def running(self) -> bool:
        """Whether the daemon process is alive."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """The daemon's process id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    async def start(self) -> str:
        """Start the daemon in a fresh temporary directory; returns its bus address."""
        self._directory = Path(tempfile.mkdtemp(prefix="sim-dbus-"))
        config = self._directory / "bus.conf"
        config.write_text(daemon_config(self._directory / "system_bus_socket"), encoding="utf-8")
        try:
            with (self._directory / STDERR_FILE).open("wb") as stderr:
                self._process = await asyncio.create_subprocess_exec(
                    DBUS_DAEMON,
                    f"--config-file={config}",
                    "--nofork",
                    "--nopidfile",
                    "--print-address",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=stderr,
                    preexec_fn=_die_with_parent,
                )
            stdout = self._process.stdout
            line = (
                b""
                if stdout is None
                else await asyncio.wait_for(stdout.readline(), START_TIMEOUT_S)
            )
        except (OSError, TimeoutError) as exc:
            reason = self._stderr_tail()
            await self.stop()
            raise DbusDaemonError(f"dbus-daemon did not start: {exc} {reason}") from exc
        self.address = line.decode().strip()
        if not self.address.startswith("unix:"):
            reason = self._stderr_tail()
            await self.stop()
            raise DbusDaemonError(f"dbus-daemon printed no address: {reason}")
        logger.info("dbus_daemon.started pid=%d", self._process.pid)
        return self.address

    def _stderr_tail(self) -> str:
        if self._directory is None:
            return ""
        try:
            return (self._directory / STDERR_FILE).read_text(errors="replace")[-500:].strip()
        except OSError:
            return ""

    async def stop(self) -> None:
        """Stop the daemon (the whole bus goes away) and remove its directory; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
            logger.info("dbus_daemon.stopped pid=%d", process.pid)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

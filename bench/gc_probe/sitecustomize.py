"""The fan-out bench's garbage-collector probe, imported at start-up by every Python process
that has this directory on its PYTHONPATH (`python -m bench fanout --gc`).

With FANOUT_GC_LOG set to a directory, each process forked from the one started (a gunicorn
worker, not its master) writes one line per collection to `gc-PID.log` there: the generation,
its start on the monotonic clock (`time.perf_counter`, shared by every process on Linux, as
the tablets' receive times are) and how long it took, in seconds. The bench then counts the
collections that started while the arrivals were measured.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any


def _install(directory: str) -> None:
    log = open(  # noqa: SIM115 - open for the life of the worker
        os.path.join(directory, f"gc-{os.getpid()}.log"), "a", buffering=1, encoding="utf-8"
    )
    started = [0.0]

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            took = time.perf_counter() - started[0]
            log.write(f"{info['generation']} {started[0]:.6f} {took:.6f}\n")

    gc.callbacks.append(record)


def _install_here() -> None:
    _install(os.environ["FANOUT_GC_LOG"])


if os.environ.get("FANOUT_GC_LOG"):
    os.register_at_fork(after_in_child=_install_here)

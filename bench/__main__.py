"""`python -m bench NAME [ARGS]`: run one measurement."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "latency": ("bench.latency", "arrival latency through the real processes"),
    "fanout": ("bench.fanout", "pickup alert fan-out to 50 tablets vs a bare Flask-SocketIO app"),
    "help": ("bench.help", "help request to 20 tablets, and 'on my way' back to the shopper"),
    "serving": ("bench.serving", "gunicorn gthread vs gevent: fan-out and ingest at full rate"),
    "probes": ("bench.probes", "5xx to hostile requests, cross-store refusals, wrong passwords"),
    "redemption": ("bench.redemption", "coupon redemption latency under 50 concurrent tills"),
    "decisions": ("bench.decisions", "decision point decisions/s over 100,000 shoppers"),
    "decode": ("bench.decode_throughput", "decoder adverts/s against peer parsers"),
    "bluez": ("bench.bluez_throughput", "advert updates/s through the virtual BlueZ adapter"),
    "gateway": ("bench.gateway_load", "gateway CPU and memory at a given advert rate"),
    "sim": ("bench.sim_throughput", "simulator adverts/s on the virtual clock (busy-saturday)"),
    "accuracy": ("bench.accuracy", "presence fusion against a scenario's ground truth"),
    "retention": ("bench.retention", "raw-reading purge rate and longest chunk on SQLite"),
    "ingest": ("bench.ingest", "gateway batches/s and CPU per batch vs a bare insert endpoint"),
}


def main(argv: list[str]) -> int:
    """Dispatch to a bench module's main()."""
    if not argv or argv[0] not in BENCHES:
        print("usage: python -m bench NAME [ARGS]\n")
        for name, (_, about) in BENCHES.items():
            print(f"  {name:<12} {about}")
        return 2
    module = importlib.import_module(BENCHES[argv[0]][0])
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

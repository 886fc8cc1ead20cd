"""A virtual BlueZ: org.bluez on a private D-Bus, fed with simulated adverts, scanned by bleak.

Split along its seam the way bleak's `backends/bluezdbus/` is: `names` (the API's bus, interface
and error names and BlueZ's constants), `settings` (where BlueZ versions differ), `model` (the
pure half: advert merging, changed properties, filter and monitor-pattern matching), `variants`
(D-Bus property signatures and argument parsing), `introspection` (the XML) and `service`
(`VirtualBluez`, the shell that owns the connection). Import from those modules; this package
re-exports only the runner's entry points.
"""

from __future__ import annotations

from firmware_sim.bluez.service import BluezError, VirtualBluez
from firmware_sim.bluez.settings import BluezSettings

__all__ = ["BluezError", "BluezSettings", "VirtualBluez"]

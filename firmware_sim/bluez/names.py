"""The names and numbers of the BlueZ D-Bus API that the virtual BlueZ speaks.

Bus name and object root, the interfaces it exports or calls, the error names it answers with
(BlueZ's own and the D-Bus daemon's generic ones), and the constants BlueZ and the Bluetooth
specification fix: the RSSI threshold and temporary timeout of `bluetoothd`, the advertising
flags, the SIG base UUID and the AD types that monitor patterns match. Plain values only,
like bleak's `backends/bluezdbus/defs.py`, so every other module can share them.
"""

from __future__ import annotations

BLUEZ_SERVICE = "org.bluez"
BLUEZ_ROOT = "/org/bluez"
ADAPTER_INTERFACE = "org.bluez.Adapter1"
DEVICE_INTERFACE = "org.bluez.Device1"
MONITOR_MANAGER_INTERFACE = "org.bluez.AdvertisementMonitorManager1"
MONITOR_INTERFACE = "org.bluez.AdvertisementMonitor1"
OBJECT_MANAGER_INTERFACE = "org.freedesktop.DBus.ObjectManager"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
INTROSPECTABLE_INTERFACE = "org.freedesktop.DBus.Introspectable"
PEER_INTERFACE = "org.freedesktop.DBus.Peer"

ERROR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERROR_FAILED = "org.bluez.Error.Failed"
ERROR_NOT_READY = "org.bluez.Error.NotReady"
ERROR_INVALID_ARGUMENTS = "org.bluez.Error.InvalidArguments"
ERROR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERROR_ALREADY_EXISTS = "org.bluez.Error.AlreadyExists"
ERROR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
DBUS_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
DBUS_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
DBUS_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
DBUS_PROPERTY_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"

# BlueZ's RSSI_THRESHOLD (src/device.c): without a discovery filter an RSSI change smaller
# than this is not stored nor signalled; with a filter every change is (delta 0).
RSSI_THRESHOLD_DB = 8
# BlueZ's TemporaryTimeout default (main.conf): unpaired devices go this long after discovery.
DEFAULT_TEMPORARY_TIMEOUT_S = 30.0
# Flags AD (LE General Discoverable, BR/EDR not supported) that phones and beacons send.
ADVERTISING_FLAGS = b"\x06"
# The Bluetooth SIG base UUID: 16-bit UUIDs are shorthand for 0000xxxx-<this suffix>.
BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
# AD types (Bluetooth Assigned Numbers, "Common Data Types") the monitor patterns can match.
AD_FLAGS = 0x01
AD_UUID16_COMPLETE = 0x03
AD_UUID128_COMPLETE = 0x07
AD_NAME_COMPLETE = 0x09
AD_TX_POWER = 0x0A
AD_SERVICE_DATA16 = 0x16
AD_SERVICE_DATA128 = 0x21
AD_MANUFACTURER_DATA = 0xFF

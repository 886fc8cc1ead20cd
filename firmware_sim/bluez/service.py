"""The virtual BlueZ's shell: VirtualBluez, org.bluez on a private D-Bus connection.

It owns the dbus-fast connection and the org.bluez name, keeps the mutable adapters and devices,
answers method calls with a raw message handler (BlueZ keeps one discovery session per D-Bus
sender, which dbus-fast's ServiceInterface cannot see), runs the model on every published
advert and writes signals with back-pressure: a single flusher sends each device's latest state
only when the socket has room, so a slow bus coalesces updates instead of queueing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from dbus_fast import BusType, Message, MessageFlag, MessageType, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from firmware_sim.bluez.introspection import (
    ADAPTER_XML,
    DEVICE_XML,
    MONITOR_MANAGER_XML,
    OBJECT_MANAGER_XML,
    introspection_xml,
)
from firmware_sim.bluez.model import (
    DeviceState,
    DiscoveryFilter,
    ScanPolicy,
    advert_from_json,
    device_path,
    device_properties,
    merge_advert,
    or_patterns_from,
    policy_accepts,
    property_changes,
    scan_policy,
)
from firmware_sim.bluez.names import (
    ADAPTER_INTERFACE,
    BLUEZ_ROOT,
    BLUEZ_SERVICE,
    DBUS_INVALID_ARGS,
    DBUS_PROPERTY_READ_ONLY,
    DBUS_UNKNOWN_METHOD,
    DBUS_UNKNOWN_OBJECT,
    DEVICE_INTERFACE,
    ERROR_ALREADY_EXISTS,
    ERROR_DOES_NOT_EXIST,
    ERROR_FAILED,
    ERROR_IN_PROGRESS,
    ERROR_INVALID_ARGUMENTS,
    ERROR_NOT_READY,
    ERROR_NOT_SUPPORTED,
    INTROSPECTABLE_INTERFACE,
    MONITOR_INTERFACE,
    MONITOR_MANAGER_INTERFACE,
    OBJECT_MANAGER_INTERFACE,
    PEER_INTERFACE,
    PROPERTIES_INTERFACE,
)
from firmware_sim.bluez.settings import BluezSettings
from firmware_sim.bluez.variants import (
    ADAPTER_SIGNATURES,
    DEVICE_SIGNATURES,
    FILTER_KEYS,
    MONITOR_MANAGER_PROPERTIES,
    FilterError,
    parse_discovery_filter,
    to_variants,
)
from firmware_sim.wire import AdvertJson

# Log lines name the package (firmware_sim.bluez), as they did before it was split.
logger = logging.getLogger("firmware_sim.bluez")

# Signals handed to the socket before waiting for it to drain: large enough to amortise the
# wait, small enough that adverts published meanwhile coalesce into the next batch.
FLUSH_BATCH = 512
# Devices per adapter before the least recently heard is dropped: phones rotate addresses every
# 15 minutes, so a day-long run would otherwise grow without bound.
MAX_DEVICES_PER_ADAPTER = 10_000
# A client that does not answer our call (a monitor's properties) within this is ignored.
CALL_TIMEOUT_S = 5.0
# Reads of a just-registered monitor object until the client has exported it.
MONITOR_READ_ATTEMPTS = 20
MONITOR_READ_RETRY_S = 0.05
# A full socket is polled this often until the daemon has read from it.
WRITABLE_POLL_S = 0.001


class BluezError(Exception):
    """The virtual BlueZ could not start."""


@dataclass
class BluezCounters:
    """What happened to the adverts handed to the virtual BlueZ."""

    published: int = 0
    dropped_unknown_gateway: int = 0
    dropped_not_scanning: int = 0
    dropped_filtered: int = 0
    dropped_malformed: int = 0
    devices_evicted: int = 0
    signals_sent: int = 0


class _Device:
    __slots__ = ("adapter", "path", "state", "announced", "forced")

    def __init__(self, adapter: _Adapter, path: str, state: DeviceState) -> None:
        self.adapter = adapter
        self.path = path
        self.state = state
        # The properties the bus has been told; None while InterfacesAdded is still pending.
        self.announced: dict[str, Any] | None = None
        self.forced: set[str] = set()


class _Adapter:
    def __init__(self, index: int, gateway: str) -> None:
        self.name = f"hci{index}"
        self.path = f"{BLUEZ_ROOT}/{self.name}"
        self.gateway = gateway
        # Locally administered unicast addresses, one per adapter, stable across runs.
        self.address = f"02:00:00:00:00:{index:02X}"
        self.alias = f"sim-{gateway}"
        self.present = True
        self.powered = True
        self.filters: dict[str, DiscoveryFilter] = {}
        self.sessions: set[str] = set()
        self.monitors: dict[tuple[str, str], tuple[tuple[int, int, bytes], ...]] = {}
        self.devices: dict[str, _Device] = {}
        self.policy = ScanPolicy()
        # The Discovering value the bus was last told.
        self.signalled_discovering = False
        self.expiry: asyncio.TimerHandle | None = None

    @property
    def discovering(self) -> bool:
        return bool(self.sessions)

    def properties(self) -> dict[str, Any]:
        return {
            "Address": self.address,
            "AddressType": "public",
            "Name": self.alias,
            "Alias": self.alias,
            "Class": 0,
            "Powered": self.powered,
            "PowerState": "on" if self.powered else "off",
            "Discoverable": False,
            "DiscoverableTimeout": 180,
            "Pairable": False,
            "PairableTimeout": 0,
            "Discovering": self.discovering,
            "UUIDs": [],
            "Modalias": "usb:v1D6Bp0246d0548",
            "Roles": ["central", "peripheral"],
        }


class VirtualBluez:
    """org.bluez with one adapter per gateway (hci0, hci1, ... in order) on a given bus."""

    def __init__(
        self,
        bus_address: str,
        gateways: Sequence[str],
        settings: BluezSettings | None = None,
    ) -> None:
        self._bus_address = bus_address
        self.settings = settings or BluezSettings()
        self._adapters = [_Adapter(index, gateway) for index, gateway in enumerate(gateways)]
        self._by_gateway = {adapter.gateway: adapter for adapter in self._adapters}
        self._by_name = {adapter.name: adapter for adapter in self._adapters}
        self._bus: MessageBus | None = None
        self._outbox: deque[Message] = deque()
        self._dirty: dict[str, _Device] = {}
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_calls: dict[int, asyncio.Future[Message]] = {}
        self.counters = BluezCounters()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the bus, own org.bluez and start answering; raises OSError or DBusError."""
        bus = MessageBus(bus_address=self._bus_address, bus_type=BusType.SYSTEM)
        await bus.connect()
        bus.add_message_handler(self._on_message)
        await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[
                    "type='signal',sender='org.freedesktop.DBus',"
                    "interface='org.freedesktop.DBus',member='NameOwnerChanged'"
                ],
            )
        )
        owner = await bus.request_name(BLUEZ_SERVICE)
        if owner != RequestNameReply.PRIMARY_OWNER:
            bus.disconnect()
            raise BluezError(f"{BLUEZ_SERVICE} is already owned on this bus")
        self._bus = bus
        self._flusher = asyncio.create_task(self._flush_forever())
        logger.info("bluez.started adapters=%d", len(self._adapters))

    async def close(self) -> None:
        """Stop answering and disconnect; idempotent."""
        for adapter in self._adapters:
            self._cancel_expiry(adapter)
        tasks = [t for t in (self._flusher, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._flusher = None
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None
            logger.info("bluez.closed signals_sent=%d", self.counters.signals_sent)

    # -- public API for the runner and for tests --------------------------------------------

    def adapters(self) -> dict[str, str]:
        """Adapter name (hciN) to gateway name, in adapter order."""
        return {adapter.name: adapter.gateway for adapter in self._adapters}

    def publish(self, gateway: str, advert: AdvertJson) -> None:
        """Show `advert` as heard by the adapter of `gateway`; never blocks."""
        adapter = self._by_gateway.get(gateway)
        if adapter is None:
            self.counters.dropped_unknown_gateway += 1
            return
        if not (adapter.present and adapter.powered and adapter.policy.scanning):
            self.counters.dropped_not_scanning += 1
            return
        parsed = advert_from_json(advert)
        if parsed is None:
            self.counters.dropped_malformed += 1
            return
        if not policy_accepts(adapter.policy, parsed):
            self.counters.dropped_filtered += 1
            return
        self.counters.published += 1
        path = device_path(adapter.path, parsed.address)
        device = adapter.devices.pop(path, None)
        update = merge_advert(
            device.state if device else None,
            parsed,
            adapter.policy,
            self.settings.emit_unchanged_rssi,
        )
        if device is None:
            device = _Device(adapter, path, update.state)
            if len(adapter.devices) >= MAX_DEVICES_PER_ADAPTER:
                self._remove_device(next(iter(adapter.devices.values())))
                self.counters.devices_evicted += 1
        device.state = update.state
        device.forced |= update.forced
        # Re-inserting keeps adapter.devices ordered from least to most recently heard.
        adapter.devices[path] = device
        self._dirty[path] = device
        self._wake.set()

    def discovering(self, adapter_name: str) -> bool:
        """Whether any client has a discovery session on the adapter."""
        return self._by_name[adapter_name].discovering

    def device_count(self, adapter_name: str) -> int:
        """How many devices the adapter shows."""
        return len(self._by_name[adapter_name].devices)

    def remove_adapter(self, adapter_name: str) -> None:
        """Unplug the adapter: its devices and itself vanish from the bus (InterfacesRemoved)."""
        adapter = self._by_name[adapter_name]
        if not adapter.present:
            return
        self._end_discovery(adapter, invalidate=False)
        for device in list(adapter.devices.values()):
            self._remove_device(device)
        adapter.present = False
        self._signal_interfaces_removed(adapter.path, list(self._adapter_interfaces(adapter)))
        logger.info("bluez.adapter_removed adapter=%s", adapter.name)

    def restore_adapter(self, adapter_name: str) -> None:
        """Plug the adapter back in, powered and not discovering (InterfacesAdded)."""
        adapter = self._by_name[adapter_name]
        if adapter.present:
            return
        adapter.present = True
        adapter.powered = True
        self._queue_signal(
            Message.new_signal(
                "/",
                OBJECT_MANAGER_INTERFACE,
                "InterfacesAdded",
                "oa{sa{sv}}",
                [adapter.path, self._adapter_interfaces(adapter)],
            )
        )
        logger.info("bluez.adapter_restored adapter=%s", adapter.name)

    def set_powered(self, adapter_name: str, powered: bool) -> None:
        """Power the adapter on or off; off ends every discovery session on it."""
        self._set_powered(self._by_name[adapter_name], powered)

    # -- signals and back-pressure -----------------------------------------------------------

    def _queue_signal(self, message: Message) -> None:
        self._outbox.append(message)
        self._wake.set()

    def _signal_properties_changed(
        self, path: str, interface: str, changed: dict[str, Variant], invalidated: list[str]
    ) -> None:
        self._queue_signal(
            Message.new_signal(
                path,
                PROPERTIES_INTERFACE,
                "PropertiesChanged",
                "sa{sv}as",
                [interface, changed, invalidated],
            )
        )

    def _signal_interfaces_removed(self, path: str, interfaces: list[str]) -> None:
        self._queue_signal(
            Message.new_signal(
                "/", OBJECT_MANAGER_INTERFACE, "InterfacesRemoved", "oas", [path, interfaces]
            )
        )

    def _device_signals(self, device: _Device) -> list[Message]:
        props = device_properties(device.state, device.adapter.path)
        before, device.announced = device.announced, props
        forced, device.forced = device.forced, set()
        if before is None:
            interfaces = {
                DEVICE_INTERFACE: to_variants(props, DEVICE_SIGNATURES),
                PROPERTIES_INTERFACE: {},
                INTROSPECTABLE_INTERFACE: {},
            }
            return [
                Message.new_signal(
                    "/",
                    OBJECT_MANAGER_INTERFACE,
                    "InterfacesAdded",
                    "oa{sa{sv}}",
                    [device.path, interfaces],
                )
            ]
        changed, invalidated = property_changes(before, props, forced)
        if not changed and not invalidated:
            return []
        return [
            Message.new_signal(
                device.path,
                PROPERTIES_INTERFACE,
                "PropertiesChanged",
                "sa{sv}as",
                [DEVICE_INTERFACE, to_variants(changed, DEVICE_SIGNATURES), invalidated],
            )
        ]

    def _next_batch(self) -> list[Message]:
        batch: list[Message] = []
        while self._outbox and len(batch) < FLUSH_BATCH:
            batch.append(self._outbox.popleft())
        while self._dirty and len(batch) < FLUSH_BATCH:
            path = next(iter(self._dirty))
            batch.extend(self._device_signals(self._dirty.pop(path)))
        return batch

    async def _flush_forever(self) -> None:
        # Only the latest state of each device waits here: while the socket is full, adverts
        # coalesce in self._dirty instead of piling up in dbus-fast's unbounded write queue.
        bus = self._bus
        if bus is None:
            return
        try:
            while bus.connected:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox or self._dirty:
                    for message in self._next_batch():
                        await self._send_gently(bus, message)
        except Exception as exc:  # the bus died: nothing more can be sent
            logger.warning("bluez.bus_lost error=%s", type(exc).__name__)
            return
        logger.warning("bluez.bus_lost error=disconnected")

    async def _send_gently(self, bus: MessageBus, message: Message) -> None:
        # dbus-fast's writer drops the connection when it meets a full socket (python-dbus-next
        # issue 153): hand it a message only when nothing is half-written and there is room.
        fd = getattr(bus, "_fd", None)
        if isinstance(fd, int):
            while not select.select([], [fd], [], 0)[1]:
                await asyncio.sleep(WRITABLE_POLL_S)
        try:
            written = bus.send(message)
        except Exception:  # a message that cannot be marshalled is a bug: skip it, keep serving
            logger.exception("bluez.unsendable member=%s", message.member)
            return
        if not written.done():
            await written
        written.result()
        self.counters.signals_sent += 1

    # -- discovery sessions -----------------------------------------------------------------

    def _update_policy(self, adapter: _Adapter) -> None:
        was_scanning = adapter.policy.scanning
        adapter.policy = scan_policy(
            (adapter.filters.get(sender) for sender in adapter.sessions),
            (pattern for patterns in adapter.monitors.values() for pattern in patterns),
        )
        if adapter.discovering != adapter.signalled_discovering:
            adapter.signalled_discovering = adapter.discovering
            self._signal_properties_changed(
                adapter.path,
                ADAPTER_INTERFACE,
                {"Discovering": Variant("b", adapter.discovering)},
                [],
            )
            logger.info(
                "bluez.discovering adapter=%s discovering=%s", adapter.name, adapter.discovering
            )
        if adapter.policy.scanning:
            self._cancel_expiry(adapter)
        elif was_scanning or adapter.devices:
            self._invalidate_rssi(adapter)
            self._schedule_expiry(adapter)

    def _end_discovery(self, adapter: _Adapter, invalidate: bool = True) -> None:
        adapter.sessions.clear()
        adapter.filters.clear()
        adapter.monitors.clear()
        if invalidate:
            self._update_policy(adapter)
        else:
            adapter.policy = ScanPolicy()
            adapter.signalled_discovering = False
            self._cancel_expiry(adapter)

    def _invalidate_rssi(self, adapter: _Adapter) -> None:
        # BlueZ forgets RSSI and TX power of every device when discovery ends.
        for device in adapter.devices.values():
            if device.state.rssi is not None or device.state.tx_power is not None:
                device.state = replace(device.state, rssi=None, tx_power=None)
                self._dirty[device.path] = device
        self._wake.set()

    def _schedule_expiry(self, adapter: _Adapter) -> None:
        self._cancel_expiry(adapter)
        loop = asyncio.get_running_loop()
        adapter.expiry = loop.call_later(
            self.settings.temporary_timeout_s, self._expire_devices, adapter
        )

    def _cancel_expiry(self, adapter: _Adapter) -> None:
        if adapter.expiry is not None:
            adapter.expiry.cancel()
            adapter.expiry = None

    def _expire_devices(self, adapter: _Adapter) -> None:
        adapter.expiry = None
        if adapter.policy.scanning:
            return
        count = len(adapter.devices)
        for device in list(adapter.devices.values()):
            self._remove_device(device)
        logger.info("bluez.devices_expired adapter=%s count=%d", adapter.name, count)

    def _remove_device(self, device: _Device) -> None:
        device.adapter.devices.pop(device.path, None)
        self._dirty.pop(device.path, None)
        if device.announced is not None:
            self._signal_interfaces_removed(
                device.path, [DEVICE_INTERFACE, PROPERTIES_INTERFACE, INTROSPECTABLE_INTERFACE]
            )

    def _set_powered(self, adapter: _Adapter, powered: bool) -> None:
        if adapter.powered == powered:
            return
        adapter.powered = powered
        if not powered:
            self._end_discovery(adapter)
        self._signal_properties_changed(
            adapter.path,
            ADAPTER_INTERFACE,
            {
                "Powered": Variant("b", powered),
                "PowerState": Variant("s", "on" if powered else "off"),
            },
            [],
        )
        logger.info("bluez.powered adapter=%s powered=%s", adapter.name, powered)

    def _drop_sender(self, sender: str) -> None:
        for adapter in self._adapters:
            monitors = [key for key in adapter.monitors if key[0] == sender]
            if sender in adapter.sessions or sender in adapter.filters or monitors:
                adapter.sessions.discard(sender)
                adapter.filters.pop(sender, None)
                for key in monitors:
                    del adapter.monitors[key]
                self._update_policy(adapter)

    # -- D-Bus method calls ------------------------------------------------------------------

    async def _call(self, message: Message) -> Message:
        # A method call through the outbox, so that it too waits for room in the socket.
        if self._bus is None:
            raise DBusError(ERROR_FAILED, "not connected")
        message.serial = self._bus.next_serial()
        reply: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending_calls[message.serial] = reply
        self._queue_signal(message)
        try:
            return await asyncio.wait_for(reply, CALL_TIMEOUT_S)
        finally:
            self._pending_calls.pop(message.serial, None)

    def _on_message(self, message: Message) -> bool | None:
        if message.message_type == MessageType.SIGNAL:
            if message.member == "NameOwnerChanged" and message.sender == "org.freedesktop.DBus":
                self._on_name_owner_changed(message)
            return None
        if message.message_type != MessageType.METHOD_CALL:
            pending = self._pending_calls.get(message.reply_serial)
            if pending is not None and not pending.done():
                pending.set_result(message)
                return True
            return None
        try:
            reply = self._dispatch(message)
        except DBusError as exc:
            reply = Message.new_error(message, exc.type, exc.text)
        except Exception:  # a bug here must cost one reply, never the service
            logger.exception("bluez.handler_failed member=%s", message.member)
            reply = Message.new_error(message, ERROR_FAILED, "internal error")
        # Replies go through the outbox too: only the flusher writes to the socket.
        if not message.flags & MessageFlag.NO_REPLY_EXPECTED:
            self._queue_signal(reply)
        return True

    def _on_name_owner_changed(self, message: Message) -> None:
        if message.signature != "sss":
            return
        name, _old_owner, new_owner = message.body
        if name.startswith(":") and not new_owner:
            self._drop_sender(name)

    def _dispatch(self, message: Message) -> Message:
        path, interface, member = message.path or "", message.interface, message.member or ""
        if interface == PEER_INTERFACE and member == "Ping":
            return Message.new_method_return(message)
        target = self._target(path)
        if target is None:
            raise DBusError(DBUS_UNKNOWN_OBJECT, f"no object at {path}")
        if interface in (INTROSPECTABLE_INTERFACE, None) and member == "Introspect":
            return Message.new_method_return(message, "s", [self._introspect(path, target)])
        if interface in (OBJECT_MANAGER_INTERFACE, None) and member == "GetManagedObjects":
            if path != "/":
                raise DBusError(DBUS_UNKNOWN_METHOD, "ObjectManager lives at /")
            return Message.new_method_return(message, "a{oa{sa{sv}}}", [self._managed_objects()])
        if interface == PROPERTIES_INTERFACE:
            return self._properties_call(message, target)
        if isinstance(target, _Adapter):
            if interface in (ADAPTER_INTERFACE, None) and member in _ADAPTER_METHODS:
                return self._adapter_call(message, target)
            if interface == MONITOR_MANAGER_INTERFACE and self.settings.passive_scanning:
                return self._monitor_call(message, target)
        if isinstance(target, _Device) and interface in (DEVICE_INTERFACE, None):
            raise DBusError(ERROR_NOT_SUPPORTED, "simulated devices cannot be connected")
        raise DBusError(DBUS_UNKNOWN_METHOD, f"{interface}.{member} is not supported here")

    def _target(self, path: str) -> str | _Adapter | _Device | None:
        if path in ("/", "/org", BLUEZ_ROOT):
            return path
        adapter_path, _, device_name = path.partition("/dev_")
        adapter = next((a for a in self._adapters if a.path == adapter_path and a.present), None)
        if adapter is None:
            return None
        if not device_name:
            return adapter
        device = adapter.devices.get(path)
        return device if device is not None and device.announced is not None else None

    def _adapter_interfaces(self, adapter: _Adapter) -> dict[str, dict[str, Variant]]:
        interfaces: dict[str, dict[str, Variant]] = {
            INTROSPECTABLE_INTERFACE: {},
            ADAPTER_INTERFACE: to_variants(adapter.properties(), ADAPTER_SIGNATURES),
            PROPERTIES_INTERFACE: {},
        }
        if self.settings.passive_scanning:
            interfaces[MONITOR_MANAGER_INTERFACE] = dict(MONITOR_MANAGER_PROPERTIES)
        return interfaces

    def _managed_objects(self) -> dict[str, dict[str, dict[str, Variant]]]:
        objects: dict[str, dict[str, dict[str, Variant]]] = {
            BLUEZ_ROOT: {"org.bluez.AgentManager1": {}, "org.bluez.ProfileManager1": {}},
        }
        for adapter in self._adapters:
            if not adapter.present:
                continue
            objects[adapter.path] = self._adapter_interfaces(adapter)
            for device in adapter.devices.values():
                if device.announced is not None:
                    objects[device.path] = {
                        DEVICE_INTERFACE: to_variants(device.announced, DEVICE_SIGNATURES),
                        PROPERTIES_INTERFACE: {},
                        INTROSPECTABLE_INTERFACE: {},
                    }
        return objects

    def _introspect(self, path: str, target: str | _Adapter | _Device) -> str:
        if isinstance(target, _Device):
            return introspection_xml(DEVICE_XML, [])
        if isinstance(target, _Adapter):
            extra = MONITOR_MANAGER_XML if self.settings.passive_scanning else ""
            children = [d.path.rsplit("/", 1)[1] for d in target.devices.values() if d.announced]
            return introspection_xml(ADAPTER_XML + extra, children)
        if path == "/":
            return introspection_xml(OBJECT_MANAGER_XML, ["org"])
        if path == "/org":
            return introspection_xml("", ["bluez"])
        return introspection_xml("", [a.name for a in self._adapters if a.present])

    def _interface_properties(
        self, target: str | _Adapter | _Device, interface: str
    ) -> tuple[dict[str, Variant], frozenset[str]]:
        """The properties of `interface` on `target` and which of them are writable."""
        if isinstance(target, _Adapter) and interface == ADAPTER_INTERFACE:
            props = to_variants(target.properties(), ADAPTER_SIGNATURES)
            return props, frozenset({"Powered", "Alias"})
        if (
            isinstance(target, _Adapter)
            and interface == MONITOR_MANAGER_INTERFACE
            and self.settings.passive_scanning
        ):
            return dict(MONITOR_MANAGER_PROPERTIES), frozenset()
        if isinstance(target, _Device) and interface == DEVICE_INTERFACE:
            return to_variants(target.announced or {}, DEVICE_SIGNATURES), frozenset()
        raise DBusError(DBUS_INVALID_ARGS, f"no interface {interface!r} at this object")

    def _properties_call(self, message: Message, target: str | _Adapter | _Device) -> Message:
        member, signature, body = message.member, message.signature, message.body
        if member == "GetAll" and signature == "s":
            props, _ = self._interface_properties(target, body[0])
            return Message.new_method_return(message, "a{sv}", [props])
        if member == "Get" and signature == "ss":
            props, _ = self._interface_properties(target, body[0])
            if body[1] not in props:
                raise DBusError(DBUS_INVALID_ARGS, f"no property {body[1]!r}")
            return Message.new_method_return(message, "v", [props[body[1]]])
        if member == "Set" and signature == "ssv":
            interface, name, value = body
            props, writable = self._interface_properties(target, interface)
            if name not in props:
                raise DBusError(DBUS_INVALID_ARGS, f"no property {name!r}")
            if name not in writable or not isinstance(target, _Adapter):
                raise DBusError(DBUS_PROPERTY_READ_ONLY, f"property {name!r} is read-only")
            if value.signature != props[name].signature:
                raise DBusError(DBUS_INVALID_ARGS, f"property {name!r} has another type")
            if name == "Powered":
                self._set_powered(target, bool(value.value))
            else:
                target.alias = str(value.value)
                self._signal_properties_changed(
                    target.path,
                    ADAPTER_INTERFACE,
                    {"Alias": value, "Name": value},
                    [],
                )
            return Message.new_method_return(message)
        if member in ("Get", "GetAll", "Set"):
            raise DBusError(DBUS_INVALID_ARGS, f"bad signature {signature!r} for {member}")
        raise DBusError(DBUS_UNKNOWN_METHOD, f"no method {member!r} on {PROPERTIES_INTERFACE}")

    def _adapter_call(self, message: Message, adapter: _Adapter) -> Message:
        member, signature, sender = message.member or "", message.signature, message.sender or ""
        expected = _ADAPTER_METHODS[member]
        if signature != expected:
            raise DBusError(ERROR_INVALID_ARGUMENTS, "Invalid arguments in method call")
        if member == "GetDiscoveryFilters":
            return Message.new_method_return(message, "as", [list(FILTER_KEYS)])
        if member == "RemoveDevice":
            device = adapter.devices.get(message.body[0])
            if device is None or device.announced is None:
                raise DBusError(ERROR_DOES_NOT_EXIST, "Does Not Exist")
            self._remove_device(device)
            return Message.new_method_return(message)
        if not adapter.powered:
            raise DBusError(ERROR_NOT_READY, "Resource Not Ready")
        if member == "SetDiscoveryFilter":
            try:
                discovery_filter = parse_discovery_filter(message.body[0])
            except FilterError as exc:
                raise DBusError(ERROR_INVALID_ARGUMENTS, str(exc)) from exc
            if discovery_filter is None:
                adapter.filters.pop(sender, None)
            else:
                adapter.filters[sender] = discovery_filter
        elif member == "StartDiscovery":
            if sender in adapter.sessions:
                raise DBusError(ERROR_IN_PROGRESS, "Operation already in progress")
            adapter.sessions.add(sender)
            logger.info("bluez.session_started adapter=%s", adapter.name)
        elif member == "StopDiscovery":
            if sender not in adapter.sessions:
                raise DBusError(ERROR_FAILED, "No discovery started")
            adapter.sessions.discard(sender)
            # BlueZ frees the client's filter with its session.
            adapter.filters.pop(sender, None)
            logger.info("bluez.session_stopped adapter=%s", adapter.name)
        self._update_policy(adapter)
        return Message.new_method_return(message)

    def _monitor_call(self, message: Message, adapter: _Adapter) -> Message:
        member, signature, sender = message.member, message.signature, message.sender or ""
        if member not in ("RegisterMonitor", "UnregisterMonitor"):
            raise DBusError(DBUS_UNKNOWN_METHOD, f"no method {member!r}")
        if signature != "o":
            raise DBusError(ERROR_INVALID_ARGUMENTS, "Invalid arguments in method call")
        key = (sender, message.body[0])
        if member == "UnregisterMonitor":
            if key not in adapter.monitors:
                raise DBusError(ERROR_DOES_NOT_EXIST, "Does Not Exist")
            del adapter.monitors[key]
            self._update_policy(adapter)
            return Message.new_method_return(message)
        if key in adapter.monitors:
            raise DBusError(ERROR_ALREADY_EXISTS, "Already Exists")
        adapter.monitors[key] = ()
        task = asyncio.get_running_loop().create_task(self._read_monitor(adapter, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Message.new_method_return(message)

    async def _read_monitor(self, adapter: _Adapter, key: tuple[str, str]) -> None:
        # Like BlueZ, read the client's monitor object after the RegisterMonitor reply. bleak
        # exports it only once its task has seen the reply, so the first read may come too
        # early: retry a few times. Its patterns then drive passive scanning.
        sender, path = key
        reply: Message | None = None
        for _attempt in range(MONITOR_READ_ATTEMPTS):
            if _attempt:
                await asyncio.sleep(MONITOR_READ_RETRY_S)
            reply = await self._call(
                Message(
                    destination=sender,
                    path=path,
                    interface=PROPERTIES_INTERFACE,
                    member="GetAll",
                    signature="s",
                    body=[MONITOR_INTERFACE],
                )
            )
            if key not in adapter.monitors or reply.message_type == MessageType.METHOD_RETURN:
                break
        if key not in adapter.monitors:
            return
        if reply is None or reply.signature != "a{sv}":
            error = reply.error_name if reply is not None else None
            logger.warning("bluez.monitor_unreadable adapter=%s error=%s", adapter.name, error)
            return
        patterns_variant = reply.body[0].get("Patterns")
        patterns = or_patterns_from(
            patterns_variant.value if isinstance(patterns_variant, Variant) else None
        )
        adapter.monitors[key] = patterns
        self._update_policy(adapter)
        self._queue_signal(
            Message(
                destination=sender,
                path=path,
                interface=MONITOR_INTERFACE,
                member="Activate",
                flags=MessageFlag.NO_REPLY_EXPECTED,
            )
        )
        logger.info("bluez.monitor_active adapter=%s patterns=%d", adapter.name, len(patterns))


_ADAPTER_METHODS = {
    "StartDiscovery": "",
    "StopDiscovery": "",
    "SetDiscoveryFilter": "a{sv}",
    "GetDiscoveryFilters": "",
    "RemoveDevice": "o",
}

"""Introspection data of the virtual BlueZ: what `busctl introspect` shows at each object.

The XML of the standard Introspectable, Properties and ObjectManager interfaces and of the
BlueZ interfaces the simulator exports (Adapter1, AdvertisementMonitorManager1, Device1), and
`introspection_xml`, which wraps an object's interfaces and child nodes in the D-Bus
introspection document. bleak itself never introspects; this is for people and tools looking
at the bus. Plain strings, no D-Bus I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

_INTROSPECTABLE_XML = """  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface" type="s" direction="in"/>
      <arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="out"/>
    </method>
    <method name="Set"><arg name="interface" type="s" direction="in"/>
      <arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="in"/>
    </method>
    <method name="GetAll"><arg name="interface" type="s" direction="in"/>
      <arg name="properties" type="a{sv}" direction="out"/>
    </method>
    <signal name="PropertiesChanged"><arg name="interface" type="s"/>
      <arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>
"""
OBJECT_MANAGER_XML = """  <interface name="org.freedesktop.DBus.ObjectManager">
    <method name="GetManagedObjects">
      <arg name="objects" type="a{oa{sa{sv}}}" direction="out"/>
    </method>
    <signal name="InterfacesAdded"><arg name="object" type="o"/>
      <arg name="interfaces" type="a{sa{sv}}"/></signal>
    <signal name="InterfacesRemoved"><arg name="object" type="o"/>
      <arg name="interfaces" type="as"/></signal>
  </interface>
"""
ADAPTER_XML = """  <interface name="org.bluez.Adapter1">
    <method name="StartDiscovery"/>
    <method name="SetDiscoveryFilter"><arg name="properties" type="a{sv}" direction="in"/></method>
    <method name="StopDiscovery"/>
    <method name="RemoveDevice"><arg name="device" type="o" direction="in"/></method>
    <method name="GetDiscoveryFilters"><arg name="filters" type="as" direction="out"/></method>
  </interface>
"""
MONITOR_MANAGER_XML = """  <interface name="org.bluez.AdvertisementMonitorManager1">
    <method name="RegisterMonitor"><arg name="application" type="o" direction="in"/></method>
    <method name="UnregisterMonitor"><arg name="application" type="o" direction="in"/></method>
  </interface>
"""
DEVICE_XML = """  <interface name="org.bluez.Device1">
    <method name="Disconnect"/><method name="Connect"/><method name="Pair"/>
    <method name="CancelPairing"/>
  </interface>
"""


def introspection_xml(interfaces: str, children: Iterable[str]) -> str:
    nodes = "".join(f'  <node name="{child}"/>\n' for child in children)
    return (
        '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
        ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
        f"<node>\n{_INTROSPECTABLE_XML}{interfaces}{nodes}</node>\n"
    )

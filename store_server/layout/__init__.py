"""The store layout: zones, gateways, beacons."""

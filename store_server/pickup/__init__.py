"""Pickup: orders from the store's order system, arrival alerts and their lifecycle."""

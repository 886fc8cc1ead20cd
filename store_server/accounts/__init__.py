"""Accounts: staff passwords and sessions, device and integration tokens."""

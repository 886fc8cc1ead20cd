"""Messaging: the outbound queue and the channels (in-app, Web Push, SMS, e-mail)."""

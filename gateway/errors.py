"""The gateway's exceptions: one root, so callers can catch everything the gateway raises."""


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class SettingsError(GatewayError):
    """A setting is missing or malformed; the message names the environment variable."""

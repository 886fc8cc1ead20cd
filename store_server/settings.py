"""The store server's one settings object, read from `STORE_`-prefixed environment variables."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# An entrance gateway hears a phone carried through the door at about -55 to -65 dBm (RSSI at
# 1 m is about -59 dBm); -70 dBm is roughly 3.5 m away in free space, far enough to catch the
# door, near enough that people on the pavement beyond it rarely reach it.
DEFAULT_ENTRY_RSSI_DBM = -70
# A gateway sends a batch at least every second; 5,000 observations is far above what one
# gateway hears in a second in a busy store and keeps a request under the 1 MiB body limit.
DEFAULT_MAX_BATCH_OBSERVATIONS = 5000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# A tablet stays logged in for a long shift.
DEFAULT_SESSION_TTL_S = 12 * 3600.0
# A pickup alert nobody handed over is closed after an hour: the shopper has left or been served
# without the tablet; it must not linger on every tablet all day.
DEFAULT_ALERT_EXPIRY_S = 3600.0
# The sweep escalates, expires and closes; correctness never depends on it running on time
# (everything is derived from stored timestamps), so a few seconds is plenty.
DEFAULT_SWEEP_INTERVAL_S = 5.0
# A thank-you coupon after a pickup is valid for a month: long enough to plan a return visit.
DEFAULT_THANKS_COUPON_VALID_S = 30 * 86400.0
# An order's claim link lasts a week from when the order was pushed or last changed status:
# long enough for a "ready for pickup" message read days later, short enough to go stale.
DEFAULT_CLAIM_LINK_VALID_S = 7 * 86400.0


# starttls: submission on 587; tls: implicit TLS on 465; plain: a relay on the same host.
SMTP_SECURITY = ("starttls", "tls", "plain")


class SettingsError(ValueError):
    """A setting is missing or has a bad value; the message names the variable."""


@dataclass(frozen=True)
class StoreSettings:
    """Everything the store server can be told, one field per `STORE_` variable."""

    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'store.db'}"
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    host: str = "127.0.0.1"
    port: int = 5000
    entry_rssi_dbm: int = DEFAULT_ENTRY_RSSI_DBM
    max_batch_observations: int = DEFAULT_MAX_BATCH_OBSERVATIONS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    session_ttl_s: float = DEFAULT_SESSION_TTL_S
    alert_expiry_s: float = DEFAULT_ALERT_EXPIRY_S
    sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S
    run_scheduler: bool = True
    thanks_coupon_valid_s: float = DEFAULT_THANKS_COUPON_VALID_S
    claim_link_valid_s: float = DEFAULT_CLAIM_LINK_VALID_S
    var_dir: str = str(REPO_ROOT / "var")
    public_url: str = ""
    vapid_subject: str = ""
    sms_base_url: str = ""
    sms_account_sid: str = ""
    sms_auth_token: str = field(default="", repr=False)
    sms_from: str = ""
    sms_help_contact: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    mail_from: str = ""
    # Several processes of one deployment (docs/decisions.md, "Several processes"): Socket.IO's
    # message queue, the channel this deployment uses on it, and where the abuse limits count.
    socketio_message_queue: str = ""
    socketio_channel: str = ""
    rate_limit_storage_url: str = ""
    vendor_dir: str = str(REPO_ROOT / "node_modules")
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.smtp_security not in SMTP_SECURITY:
            raise SettingsError(
                f"STORE_SMTP_SECURITY={self.smtp_security!r} must be one of "
                f"{', '.join(SMTP_SECURITY)}"
            )

    @property
    def message_channel(self) -> str:
        """This deployment's Socket.IO channel: the setting, else one derived from the database.

        Redis pub/sub ignores the database number, so two deployments sharing one Redis must
        use different channels; the database is what tells deployments apart.
        """
        if self.socketio_channel:
            return self.socketio_channel
        digest = hashlib.sha256(_without_password(self.database_url).encode()).hexdigest()
        return f"store-server-{digest[:16]}"

    @property
    def limits_storage_uri(self) -> str:
        """Where the abuse limits count: the setting, else the message queue's Redis (shared by
        every process), else this process's memory."""
        return self.rate_limit_storage_url or self.socketio_message_queue or "memory://"

    @property
    def base_url(self) -> str:
        """Where shoppers reach this server: links in messages, QR codes, unsubscribe URLs."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> StoreSettings:
        """Build settings from `STORE_<FIELD>` variables; explicit overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f"STORE_{f.name.upper()}"
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif name in environ:
                values[f.name] = _convert(name, environ[name], f.type)
        return cls(**values)  # type: ignore[arg-type]


def _without_password(url: str) -> str:
    # The channel name may show in Redis' client list; a password in the URL must not.
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    return f"{scheme}://{credentials.partition(':')[0]}@{host}"


def _convert(name: str, raw: str, type_name: object) -> object:
    if type_name == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={raw!r} is not a boolean (use 1 or 0)")
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number") from exc
    if not raw and name in ("STORE_DATABASE_URL", "STORE_SECRET_KEY"):
        raise SettingsError(f"{name} must not be empty")
    return raw

"""The store server's one settings object, read from `STORE_`-prefixed environment variables.

Every value is checked with its range when the server or a command starts (pydantic-settings),
and a bad one stops it with a message naming the variable. The README's settings table is
generated from these definitions (`python -m store_server.settings`) and a test compares them.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "STORE_"
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
# Raw readings only feed presence fusion (seconds to minutes) and a calibration walk (hours);
# three days covers a weekend's questions about "why did it say she left?" and no more.
DEFAULT_RAW_RETENTION_DAYS = 3
DAY_S = 86400.0

SmtpSecurity = Literal["starttls", "tls", "plain"]
# starttls: submission on 587; tls: implicit TLS on 465; plain: a relay on the same host.
SMTP_SECURITY: tuple[SmtpSecurity, ...] = ("starttls", "tls", "plain")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# Host names no push service can reach (RFC 2606, RFC 6762): Apple's push service refuses a
# VAPID subject naming one (403 BadJwtToken).
UNREACHABLE_DOMAINS = (".localhost", ".local", ".invalid")
# gunicorn worker classes `store-server run` can use (docs/decisions.md, "Production serving").
ServerWorker = Literal["gevent", "gthread"]
SERVER_WORKERS: tuple[ServerWorker, ...] = ("gevent", "gthread")
# One log line per event: logfmt like the gateway's, or one JSON object per line.
LogFormat = Literal["logfmt", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("logfmt", "json")


class SettingsError(ValueError):
    """A setting is missing or has a bad value; the message names the variable."""


def shown(default: str) -> dict[str, Any]:
    """How the README's table shows a default that is not a plain value."""
    return {"shown_default": default}


def _default_database_url(data: dict[str, Any]) -> str:
    return f"sqlite:///{Path(data['var_dir']).resolve() / 'store.db'}"


class StoreSettings(BaseSettings):
    """Everything the store server can be told, one field per `STORE_` variable."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_default=True
    )

    var_dir: str = Field(
        default="var",
        min_length=1,
        description="where the server keeps its files: the SQLite database by default and the "
        "VAPID (Web Push) key pair, generated on first start; relative to the working directory",
        json_schema_extra=shown("`./var`"),
    )
    database_url: str = Field(
        default_factory=_default_database_url,
        min_length=1,
        description="SQLAlchemy URL; `postgresql+psycopg://...` for a chain",
        json_schema_extra=shown("`sqlite:///` + `STORE_VAR_DIR/store.db`"),
    )
    secret_key: str = Field(
        default_factory=lambda: secrets.token_hex(32),
        min_length=8,
        repr=False,
        description="Flask secret (at least 8 characters); also signs order claim links, erasure "
        "links and managers' \"I'll take it\" links (set it, or links die on restart)",
        json_schema_extra=shown("random per start"),
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(default=5000, ge=1, le=65535, description="port to listen on")
    entry_rssi_dbm: int = Field(
        default=DEFAULT_ENTRY_RSSI_DBM,
        ge=-120,
        le=0,
        description='an entrance gateway hearing a phone at least this strong means "entered" '
        "(-120 to 0)",
    )
    max_batch_observations: int = Field(
        default=DEFAULT_MAX_BATCH_OBSERVATIONS,
        ge=1,
        le=100_000,
        description="most observations in one gateway batch (413 above; 1 to 100000)",
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest request body (413 above; 1 KiB to 64 MiB)",
    )
    session_ttl_s: float = Field(
        default=DEFAULT_SESSION_TTL_S,
        ge=60,
        le=30 * DAY_S,
        description="how long a staff log-in lasts (1 minute to 30 days)",
    )
    alert_expiry_s: float = Field(
        default=DEFAULT_ALERT_EXPIRY_S,
        ge=60,
        le=7 * DAY_S,
        description="an open pickup alert closes this long after it was raised; a manager's "
        '"I\'ll take it" link stops working then too (1 minute to 7 days)',
    )
    sweep_interval_s: float = Field(
        default=DEFAULT_SWEEP_INTERVAL_S,
        ge=0.1,
        le=3600,
        description="how often the scheduler escalates, expires, closes, re-sends and purges "
        "(0.1 s to 1 h; timing never decides correctness)",
    )
    run_scheduler: bool = Field(
        default=True,
        description="`0` on all but one process of a cluster; if several run it, a lease in the "
        "database lets one sweep at a time (every process runs its presence clock, once a "
        "second)",
    )
    thanks_coupon_valid_s: float = Field(
        default=DEFAULT_THANKS_COUPON_VALID_S,
        ge=3600,
        le=366 * DAY_S,
        description="validity of the thank-you coupon after a pickup (30 days; 1 hour to a year)",
    )
    claim_link_valid_s: float = Field(
        default=DEFAULT_CLAIM_LINK_VALID_S,
        ge=3600,
        le=90 * DAY_S,
        description="an order's claim link works this long after the order was pushed or "
        "changed status (7 days; 1 hour to 90 days)",
    )
    raw_retention_days: int = Field(
        default=DEFAULT_RAW_RETENTION_DAYS,
        ge=1,
        le=90,
        description="raw gateway readings and batch ids are deleted after this many days "
        "(visits, events and totals stay; 1 to 90)",
    )
    public_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s/?#]+[^\s?#]*)?$",
        description="the address shoppers reach (`http://` or `https://`): links in messages, "
        "QR codes, unsubscribe and SMS webhook URLs",
        json_schema_extra=shown("`http://HOST:PORT`"),
    )
    vapid_subject: str = Field(
        default="",
        description="contact the push services see (`mailto:` or `https:`, RFC 8292); the server "
        "refuses to start with a localhost, `.local` or `.invalid` one, which Apple's push "
        "service rejects",
        json_schema_extra=shown(
            "the public URL if https, else `mailto:webpush@localhost` (logged as a warning: "
            "iPhones refuse it)"
        ),
    )
    sms_base_url: str = Field(
        default="",
        pattern=r"^(https?://\S+)?$",
        description="base URL of an SMS provider speaking the Twilio Messages API; empty: no SMS",
        json_schema_extra=shown("empty"),
    )
    sms_account_sid: str = Field(
        default="",
        description="the provider account (HTTP basic user)",
        json_schema_extra=shown("empty"),
    )
    sms_auth_token: str = Field(
        default="",
        repr=False,
        description="the provider secret (HTTP basic password)",
        json_schema_extra=shown("empty"),
    )
    sms_from: str = Field(
        default="", description="the sending number (E.164)", json_schema_extra=shown("empty")
    )
    sms_help_contact: str = Field(
        default="",
        description="where a texted HELP sends people",
        json_schema_extra=shown("the public URL"),
    )
    smtp_host: str = Field(
        default="",
        description="SMTP relay for e-mail; empty: no e-mail",
        json_schema_extra=shown("empty"),
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="relay port")
    smtp_security: SmtpSecurity = Field(
        default="starttls",
        description="`starttls`, `tls` (implicit, port 465) or `plain` (a relay on the same host)",
    )
    smtp_username: str = Field(
        default="", description="relay login (none when empty)", json_schema_extra=shown("empty")
    )
    smtp_password: str = Field(
        default="", repr=False, description="relay password", json_schema_extra=shown("empty")
    )
    mail_from: str = Field(
        default="",
        description="the From address; also the mailbox that takes `unsubscribe-TOKEN` mails",
        json_schema_extra=shown("empty"),
    )
    delivery_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="seconds an SMTP relay, SMS provider or push service may stay silent during "
        "one message before the attempt is given up and retried later (up to 60 s)",
    )
    # Several processes of one deployment (docs/decisions.md, "Several processes"): Socket.IO's
    # message queue, the channel this deployment uses on it, and where the abuse limits count.
    socketio_message_queue: str = Field(
        default="",
        description="Redis URL shared by several server processes (`pip install '.[cluster]'`); "
        "the server refuses to start if it does not answer",
        json_schema_extra=shown("empty"),
    )
    socketio_channel: str = Field(
        default="",
        max_length=100,
        description="this deployment's channel on that Redis: deployments sharing one Redis must "
        "differ (pub/sub ignores the database number)",
        json_schema_extra=shown("derived from `STORE_DATABASE_URL`"),
    )
    rate_limit_storage_url: str = Field(
        default="",
        description="where the abuse limits count (`redis://...` shares them between processes)",
        json_schema_extra=shown("the message queue, else memory"),
    )
    log_level: LogLevel = Field(default="INFO", description="log level")
    # Serving and operations (docs/deployment.md).
    server_worker: ServerWorker = Field(
        default="gevent",
        description="gunicorn worker class of `store-server run`: `gevent` or `gthread` "
        "(docs/decisions.md)",
    )
    trusted_proxies: int = Field(
        default=0,
        ge=0,
        le=10,
        description="reverse proxies in front whose `X-Forwarded-*` headers are trusted "
        "(1 behind nginx, docs/deployment.md; 0 to 10)",
    )
    log_format: LogFormat = Field(
        default="logfmt",
        description="one line per event: `logfmt` (like the gateway's) or `json`",
    )

    @field_validator("vapid_subject")
    @classmethod
    def _push_services_accept(cls, value: str) -> str:
        if value and not value.startswith(("mailto:", "https://")):
            raise ValueError("must start with mailto: or https:// (RFC 8292)")
        if value and unreachable_contact(value):
            raise ValueError("names a local or reserved host, which Apple's push service rejects")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then the environment; no .env or secrets files."""
        return (init_settings, env_settings)

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
    def from_env(cls, **overrides: object) -> StoreSettings:
        """Build settings from the `STORE_<FIELD>` environment variables (explicit overrides
        win); a bad value raises `SettingsError` naming its variable."""
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None


def _without_password(url: str) -> str:
    # The channel name may show in Redis' client list; a password in the URL must not.
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    return f"{scheme}://{credentials.partition(':')[0]}@{host}"


def variable(field_name: str) -> str:
    """The environment variable of a settings field."""
    return f"{ENV_PREFIX}{field_name.upper()}"


SECRET_FIELDS = frozenset({"secret_key", "sms_auth_token", "smtp_password"})


def describe(exc: ValidationError) -> str:
    """One line per bad value, naming the variable (a secret's value is never echoed)."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        shown_value = "" if name in SECRET_FIELDS else f"={error.get('input')!r}"
        lines.append(f"{variable(name)}{shown_value}: {error['msg']}")
    return "; ".join(lines)


def unreachable_contact(subject: str) -> bool:
    """Whether a VAPID subject names localhost or a reserved domain push services refuse."""
    if subject.startswith("mailto:"):
        host = subject.removeprefix("mailto:").rpartition("@")[2]
    else:
        host = subject.removeprefix("https://").split("/", 1)[0].split(":", 1)[0]
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(UNREACHABLE_DOMAINS)


def markdown_table() -> str:
    """The README's `STORE_` table, generated from the definitions above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in StoreSettings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = extra.get("shown_default")
        if default is None:
            value = info.default
            value = ("1" if value else "0") if isinstance(value, bool) else value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            default = f"`{value}`"
        rows.append(f"| `{variable(name)}` | {default} | {info.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")

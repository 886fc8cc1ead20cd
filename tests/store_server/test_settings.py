"""StoreSettings: every value checked with its range at start, the error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from store_server.settings import SettingsError, StoreSettings, unreachable_contact

# One value out of range (or of the wrong kind) per setting that has a range.
BAD_VALUES = [
    ("STORE_PORT", "0"),
    ("STORE_PORT", "65536"),
    ("STORE_PORT", "http"),
    ("STORE_ENTRY_RSSI_DBM", "5"),
    ("STORE_ENTRY_RSSI_DBM", "-200"),
    ("STORE_MAX_BATCH_OBSERVATIONS", "0"),
    ("STORE_MAX_BODY_BYTES", "10"),
    ("STORE_SESSION_TTL_S", "1"),
    ("STORE_SESSION_TTL_S", "nan"),
    ("STORE_ALERT_EXPIRY_S", "-1"),
    ("STORE_SWEEP_INTERVAL_S", "0"),
    ("STORE_SWEEP_INTERVAL_S", "inf"),
    ("STORE_RUN_SCHEDULER", "maybe"),
    ("STORE_THANKS_COUPON_VALID_S", "60"),
    ("STORE_CLAIM_LINK_VALID_S", "1e12"),
    ("STORE_RAW_RETENTION_DAYS", "0"),
    ("STORE_RAW_RETENTION_DAYS", "365"),
    ("STORE_PUBLIC_URL", "shop.example"),
    ("STORE_PUBLIC_URL", "ftp://shop.example"),
    ("STORE_VAPID_SUBJECT", "ops@shop.example"),
    ("STORE_VAPID_SUBJECT", "mailto:webpush@localhost"),
    ("STORE_VAPID_SUBJECT", "mailto:ops@till.local"),
    ("STORE_VAPID_SUBJECT", "https://shop.invalid/contact"),
    ("STORE_SMS_BASE_URL", "provider"),
    ("STORE_SMTP_PORT", "99999"),
    ("STORE_SMTP_SECURITY", "ssl"),
    ("STORE_DELIVERY_TIMEOUT_S", "0"),
    ("STORE_DELIVERY_TIMEOUT_S", "61"),
    ("STORE_LOG_LEVEL", "LOUD"),
    ("STORE_SERVER_WORKER", "eventlet"),
    ("STORE_TRUSTED_PROXIES", "-1"),
    ("STORE_TRUSTED_PROXIES", "11"),
    ("STORE_LOG_FORMAT", "xml"),
    ("STORE_SOCKETIO_CHANNEL", "c" * 101),
    ("STORE_DATABASE_URL", ""),
    ("STORE_SECRET_KEY", "short"),
    ("STORE_HOST", ""),
    ("STORE_VAR_DIR", ""),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        StoreSettings.from_env()
    assert str(refused.value).startswith(name)


def test_every_variable_with_a_range_has_a_bad_value_tested() -> None:
    ranged = {
        f"STORE_{name.upper()}"
        for name, info in StoreSettings.model_fields.items()
        if info.metadata or info.annotation in (bool, int, float)
    }
    assert ranged <= {name for name, _ in BAD_VALUES}


def test_a_secret_is_never_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_SECRET_KEY", "sEcr3")
    with pytest.raises(SettingsError) as refused:
        StoreSettings.from_env()
    assert "STORE_SECRET_KEY" in str(refused.value)
    assert "sEcr3" not in str(refused.value)


def test_values_are_read_from_the_environment_and_overrides_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORE_PORT", "8080")
    monkeypatch.setenv("STORE_RUN_SCHEDULER", "0")
    monkeypatch.setenv("STORE_SWEEP_INTERVAL_S", "2.5")
    settings = StoreSettings.from_env(host="0.0.0.0")  # noqa: S104 - a value, not a bind
    assert (settings.port, settings.run_scheduler, settings.sweep_interval_s) == (8080, False, 2.5)
    assert settings.host == "0.0.0.0"  # noqa: S104


def test_files_default_to_the_working_directory_not_the_install_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = StoreSettings.from_env()
    assert Path(settings.var_dir).resolve() == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'store.db'}"
    monkeypatch.setenv("STORE_VAR_DIR", str(tmp_path / "elsewhere"))
    assert StoreSettings.from_env().database_url.endswith("/elsewhere/store.db")


@pytest.mark.parametrize(
    ("subject", "unreachable"),
    [
        ("mailto:webpush@localhost", True),
        ("mailto:ops@Till.LOCAL", True),
        ("https://shop.invalid", True),
        ("https://localhost:8443/x", True),
        ("mailto:ops@shop.example", False),
        ("https://shop.example.com", False),
    ],
)
def test_push_contacts_apple_refuses_are_recognised(subject: str, unreachable: bool) -> None:
    assert unreachable_contact(subject) is unreachable

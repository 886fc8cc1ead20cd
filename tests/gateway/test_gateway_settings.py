"""GatewaySettings.from_env: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import pytest

from gateway.settings import GatewaySettings, SettingsError

MINIMAL = {
    "GATEWAY_ID": "gw-entrance",
    "GATEWAY_TOKEN": "t0ken",
    "GATEWAY_SERVER_URL": "http://127.0.0.1:5000/",
}


def test_minimal_environment_gives_documented_defaults() -> None:
    settings = GatewaySettings.from_env(MINIMAL)
    assert settings == GatewaySettings(
        gateway_id="gw-entrance",
        token="t0ken",
        server_url="http://127.0.0.1:5000",
        scanner_backend="",
        adapter="",
        scanning_mode="active",
        batch_interval_s=0.5,
        max_batch=500,
        http_timeout_s=5.0,
        state_dir="./var/gateway",
        outbox_max_observations=1_000_000,
        heartbeat_interval_s=30.0,
        silence_restart_s=20.0,
        exit_if_no_adapter=False,
        metrics_port=9108,
        metrics_host="127.0.0.1",
    )


def test_every_variable_is_read() -> None:
    environ = {
        **MINIMAL,
        "GATEWAY_SCANNER_BACKEND": "firmware_sim.backend:SimScanner",
        "GATEWAY_ADAPTER": "hci1",
        "GATEWAY_SCANNING_MODE": "Passive",
        "GATEWAY_BATCH_INTERVAL_S": "0.25",
        "GATEWAY_MAX_BATCH": "5000",
        "GATEWAY_HTTP_TIMEOUT_S": "2.5",
        "GATEWAY_STATE_DIR": "/var/lib/beacon-gateway",
        "GATEWAY_EXIT_IF_NO_ADAPTER": "yes",
        "GATEWAY_METRICS_PORT": "0",
        "GATEWAY_RSSI_WINDOW": "9",
        "GATEWAY_PATH_LOSS_EXPONENT": "2.7",
        "UNRELATED": "ignored",
    }
    settings = GatewaySettings.from_env(environ)
    assert settings.scanner_backend == "firmware_sim.backend:SimScanner"
    assert settings.adapter == "hci1"
    assert settings.scanning_mode == "passive"
    assert settings.batch_interval_s == 0.25
    assert settings.max_batch == 5000
    assert settings.http_timeout_s == 2.5
    assert settings.state_dir == "/var/lib/beacon-gateway"
    assert settings.exit_if_no_adapter is True
    assert settings.metrics_port == 0
    assert settings.tracking_params().window == 9
    assert settings.tracking_params().path_loss_exponent == 2.7


@pytest.mark.parametrize("name", ["GATEWAY_ID", "GATEWAY_TOKEN", "GATEWAY_SERVER_URL"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_required_variable_is_named(name: str, value: str | None) -> None:
    environ = dict(MINIMAL)
    if value is None:
        del environ[name]
    else:
        environ[name] = value
    with pytest.raises(SettingsError, match=name):
        GatewaySettings.from_env(environ)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_ID", "gw entrance"),
        ("GATEWAY_ID", "gw/../admin"),
        ("GATEWAY_ID", "x" * 65),
        ("GATEWAY_SERVER_URL", "localhost:5000"),
        ("GATEWAY_SERVER_URL", "ftp://store.example"),
        ("GATEWAY_SERVER_URL", "http://"),
        ("GATEWAY_SCANNER_BACKEND", "no_colon_here"),
        ("GATEWAY_SCANNER_BACKEND", "pkg.mod:"),
        ("GATEWAY_ADAPTER", "hci0; rm -rf"),
        ("GATEWAY_SCANNING_MODE", "aggressive"),
        ("GATEWAY_BATCH_INTERVAL_S", "0"),
        ("GATEWAY_BATCH_INTERVAL_S", "-1"),
        ("GATEWAY_BATCH_INTERVAL_S", "half a second"),
        ("GATEWAY_BATCH_INTERVAL_S", "nan"),
        ("GATEWAY_BATCH_INTERVAL_S", "inf"),
        ("GATEWAY_MAX_BATCH", "0"),
        ("GATEWAY_MAX_BATCH", "5001"),
        ("GATEWAY_MAX_BATCH", "1.5"),
        ("GATEWAY_HTTP_TIMEOUT_S", "soon"),
        ("GATEWAY_OUTBOX_MAX_OBSERVATIONS", "10"),
        ("GATEWAY_HEARTBEAT_INTERVAL_S", "0"),
        ("GATEWAY_SILENCE_RESTART_S", "never"),
        ("GATEWAY_EXIT_IF_NO_ADAPTER", "maybe"),
        ("GATEWAY_METRICS_PORT", "65536"),
        ("GATEWAY_METRICS_HOST", "0.0.0.0 ; x"),
        ("GATEWAY_RSSI_WINDOW", "0"),
        ("GATEWAY_RSSI_WINDOW_S", "-1"),
        ("GATEWAY_REPORT_CHANGE_DB", "nan"),
        ("GATEWAY_REPORT_MIN_INTERVAL_S", "0"),
        ("GATEWAY_REPORT_KEEPALIVE_S", "x"),
        ("GATEWAY_FORGET_AFTER_S", "inf"),
        ("GATEWAY_PATH_LOSS_EXPONENT", "9"),
    ],
)
def test_bad_value_is_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        GatewaySettings.from_env({**MINIMAL, name: value})


def test_repr_hides_the_token() -> None:
    settings = GatewaySettings.from_env({**MINIMAL, "GATEWAY_TOKEN": "very-secret-value"})
    assert "very-secret-value" not in repr(settings)
    assert "gw-entrance" in repr(settings)


def test_errors_do_not_echo_the_token() -> None:
    with pytest.raises(SettingsError) as caught:
        GatewaySettings.from_env({**MINIMAL, "GATEWAY_MAX_BATCH": "x"})
    assert "t0ken" not in str(caught.value)

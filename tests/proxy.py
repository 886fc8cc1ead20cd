"""A private nginx on loopback in front of a live stack, configured by the documented
docs/store-server.nginx.conf with loopback ports and a generated certificate (tests/e2e and
tests/browser drive the store through it)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bench.stack import Stack, free_port
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "store-server.nginx.conf"
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for localhost and 127.0.0.1; clients trust it as their CA."""

    cert: Path
    key: Path


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def site_config(
    upstream_port: int, http_port: int, https_port: int, tls: Certificate, logs: Path
) -> str:
    """The documented site file with the loopback ports, the test certificate and log path."""
    replacements = {
        "    server 127.0.0.1:5000;": f"    server 127.0.0.1:{upstream_port};",
        "    listen 80;": f"    listen 127.0.0.1:{http_port};",
        "    listen [::]:80;": "",
        "    listen 443 ssl;": f"    listen 127.0.0.1:{https_port} ssl;",
        "    listen [::]:443 ssl;": "",
        "    ssl_certificate /etc/letsencrypt/live/store.example.com/fullchain.pem;": (
            f"    ssl_certificate {tls.cert};"
        ),
        "    ssl_certificate_key /etc/letsencrypt/live/store.example.com/privkey.pem;": (
            f"    ssl_certificate_key {tls.key};"
        ),
        "    access_log /var/log/nginx/store-server.access.log store_server;": (
            f"    access_log {logs / 'store-server.access.log'} store_server;"
        ),
    }
    lines = []
    for line in SITE.read_text().splitlines():
        code = line.split("  # test:")[0]
        if "# test:" in line:
            assert code in replacements, f"no test substitute for {line!r}"
            lines.append(replacements.pop(code))
        else:
            lines.append(line)
    assert replacements == {}, f"lines no longer in the documented file: {list(replacements)}"
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Proxy:
    """A running private nginx: its HTTPS and plain URLs and the CA clients trust."""

    https_url: str
    http_url: str
    ca: str


@contextmanager
def nginx_in_front(upstream_port: int, tls: Certificate, workdir: Path) -> Iterator[Proxy]:
    """A private nginx on loopback, configured by the documented site file, in front of a
    server listening on `upstream_port`; stopped by its PID on exit."""
    workdir.mkdir()
    http_port, https_port = free_port(), free_port()
    (workdir / "site.conf").write_text(
        site_config(upstream_port, http_port, https_port, tls, workdir)
    )
    temp_paths = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (workdir / "nginx.conf").write_text(
        f"daemon off;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'};\n"
        "worker_processes 1;\nevents { worker_connections 256; }\n"
        f"http {{\n{temp_paths}\n    access_log off;\n"
        f"    include {workdir / 'site.conf'};\n}}\n"
    )
    nginx = subprocess.Popen(
        [
            "nginx",
            "-p",
            str(workdir),
            "-c",
            str(workdir / "nginx.conf"),
            "-e",
            str(workdir / "error.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = Proxy(
        f"https://127.0.0.1:{https_port}",
        f"http://127.0.0.1:{http_port}",
        str(tls.cert),
    )
    try:
        # nginx writes its PID file only once it holds its ports: until then, another process
        # on a port free_port() chose would answer for it.
        pid_file = workdir / "nginx.pid"
        assert wait_until(lambda: pid_file.exists() and _healthy(proxy), START_TIMEOUT_S), (
            workdir / "error.log"
        ).read_text()
        yield proxy
    finally:
        nginx.send_signal(signal.SIGTERM)
        nginx.wait(timeout=10)


@pytest.fixture
def proxied_stack(
    tmp_path: Path, prepared_store: Stack, certificate: Certificate
) -> Iterator[tuple[Stack, Proxy]]:
    """The store server trusting one proxy (STORE_TRUSTED_PROXIES=1) behind a private nginx."""
    with Stack(tmp_path / "stack", server_settings={"STORE_TRUSTED_PROXIES": "1"}) as stack:
        stack.start_server(copy_of=prepared_store)
        with nginx_in_front(stack.port, certificate, tmp_path / "nginx") as proxy:
            yield stack, proxy


def _healthy(proxy: Proxy) -> bool:
    try:
        return requests.get(f"{proxy.https_url}/healthz", verify=proxy.ca, timeout=2).ok
    except requests.RequestException:
        return False

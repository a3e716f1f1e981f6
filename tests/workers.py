"""A real Celery worker in a subprocess, on the same test database and broker as the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The DATABASE_URL of the test database this process uses (TCP host or unix socket dir)."""
    db = connection.settings_dict
    host = quote(str(db["HOST"] or "127.0.0.1"), safe="")
    port = db["PORT"] or "5432"
    password = quote(str(db["PASSWORD"] or ""), safe="")
    return f"postgres://{db['USER']}:{password}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    """Start, stop or kill a worker; ``extra_env`` reaches its settings (e.g. a media root)."""

    def __init__(self, *, concurrency: int = 1, extra_env: dict[str, str] | None = None, beat: bool = False) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.beat = beat
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(settings.VAR_DIR) / "test-logs" / f"{self.name.split('@')[0]}.log"

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": str(settings.CELERY_BROKER_URL),
            "CELLBATCH_ENV": "test",
            **self.extra_env,
        }
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-n",
            self.name,
            f"--concurrency={self.concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
        if self.beat:
            cmd += ["--beat", "--schedule", str(self.log_path.with_suffix(".beat"))]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited at start; see {self.log_path}:\n{self.log()[-3000:]}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return self
        self.kill()
        raise RuntimeError(f"Celery worker did not answer within {timeout} s; see {self.log_path}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole worker process group (SIGKILL: no clean-up, no acknowledgement)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def running_worker(**kwargs: object) -> Iterator[WorkerProcess]:
    celery_app.control.purge()
    worker = WorkerProcess(**kwargs).start()  # type: ignore[arg-type]
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, worker: WorkerProcess | None = None) -> None:
    """Until ``condition()`` holds; past ``timeout`` seconds fail, naming ``what`` (with the worker's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    log = worker.log()[-3000:] if worker else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def process_group(leader: int) -> list[int]:
    """The processes still running in the group ``leader`` leads (a zombie, exited but not yet reaped,
    no longer runs)."""
    found = subprocess.run(["pgrep", "-g", str(leader)], capture_output=True, text=True, check=False).stdout.split()
    return [int(pid) for pid in found if _running(int(pid))]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False

"""Run the web server and a Celery worker (with beat) together; Ctrl-C stops both cleanly.

HOST and PORT choose where the web server listens (``make run HOST=0.0.0.0 PORT=8080``). The children
end with the launcher however it ends: Ctrl-C, SIGTERM, a closed terminal (SIGHUP), or a SIGKILL of the
launcher itself (the kernel sends them SIGTERM then), so no server is left holding the port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the launcher dies, even by SIGKILL (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()  # Ctrl-C reaches the launcher only, which then stops the children in order


def port_problem(host: str, port: int) -> str:
    """Why the web server could not listen on host:port, or "" when it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return (
                f"Cannot listen on {host}:{port} ({error.strerror}): is CellBatch already running? "
                f"Stop it, or choose another port: make run PORT={port + 1}"
            )
    return ""


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("PORT", "8000"))
    except ValueError:
        print(f"PORT must be a number, not {os.environ['PORT']!r}", file=sys.stderr)
        return 2
    problem = port_problem(host, port)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if "--check-port" in sys.argv[1:]:
        return 0  # `make run` asks first, so a taken port is said before the database is seeded
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    commands = [
        [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--beat",
            "--loglevel=INFO",
            "--concurrency=2",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
    ]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, preexec_fn=_die_with_parent) for cmd in commands]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104  the address to open, not to bind
    print(f"CellBatch is running on http://{shown}:{port}/admin/ (Ctrl-C stops it)", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    failed = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
    return 0 if stopping or not failed else 1


if __name__ == "__main__":
    sys.exit(main())

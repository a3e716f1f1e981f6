"""Embedded PostgreSQL for a machine with no database server (quickstart and local tests).

The server is shared by the web server, the Celery worker and every management command: it is
started once and left running (``cleanup_mode=None``) because a short command exiting must not
stop a server the others still use. ``make stop-db`` stops it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DATABASE_NAME = "cellbatch"


def _prepare_runtime_dir(var_dir: Path) -> None:
    # pgserver's start lock lives under XDG_RUNTIME_DIR; every process must see the same one.
    runtime_dir = var_dir / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)  # platformdirs ignores a runtime dir others can read
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))


def database_settings(var_dir: Path) -> dict[str, Any]:
    """Start (or attach to) the embedded server under ``var_dir`` and return Django DB settings."""
    _prepare_runtime_dir(var_dir)
    import logging

    # pgserver logs at INFO from atexit handlers, after test runners have closed their streams.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver  # imported late: it reads XDG_RUNTIME_DIR at import time

    data_dir = var_dir / "pgdata"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
    }

"""Which Celery broker the settings use: CELERY_BROKER_URL, else a local Redis that answers, else kombu's
filesystem transport under var/ (development only; production must name its broker)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int


def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def broker(*, production: bool, var_dir: Path) -> tuple[str, dict[str, Any]]:
    """(broker URL, transport options)."""
    url, options = _transport(production=production, var_dir=var_dir)
    # A killed worker's unacknowledged task comes back after this; durable job state lives in PostgreSQL.
    options.setdefault("visibility_timeout", env_int("CELERY_VISIBILITY_TIMEOUT", 600))
    return url, options


def _transport(*, production: bool, var_dir: Path) -> tuple[str, dict[str, Any]]:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url and url != "filesystem://":
        return url, {}
    if production:
        raise ImproperlyConfigured("CELERY_BROKER_URL must be set when CELLBATCH_ENV=production")
    if not url and _redis_answers():
        return "redis://127.0.0.1:6379/0", {}
    # No Redis: kombu's filesystem transport, a real broker shared by processes through var/.
    folder = Path(os.environ.get("CELLBATCH_BROKER_DIR", var_dir / "broker"))
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(folder / "control"),
    }

"""Production settings: refuse to start without secrets, and pass Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    ours = ("DJANGO_", "CELLBATCH_", "DATABASE_URL", "CELERY_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


PRODUCTION = {
    "CELLBATCH_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-from-the-environment-0123456789",
    "DJANGO_ALLOWED_HOSTS": "cellbatch.example",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


@pytest.mark.urs("URS-120")
def test_production_settings_pass_check_deploy() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.urs("URS-120")
@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"])
def test_production_refuses_to_start_without_a_required_setting(missing: str) -> None:
    env = {**PRODUCTION, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"}
    env.pop(missing)
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr

"""Production settings: refuse to start without secrets, and pass Django's deployment checks."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float

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
@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"])
def test_production_refuses_to_start_without_a_required_setting(missing: str) -> None:
    env = {**PRODUCTION, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"}
    env.pop(missing)
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def import_settings(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` run after Django loads the settings in a fresh process with ``env``."""
    ours = ("DJANGO_", "CELLBATCH_", "DATABASE_URL", "CELERY_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    development = {
        "CELLBATCH_ENV": "test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        cwd=ROOT,
        env={**base, **development, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("value", ["ture", "enabled", "2", "y e s"])
def test_a_boolean_variable_that_is_not_true_or_false_is_refused_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECURE_SSL_REDIRECT", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
    assert str(refused.value) == (
        f"DJANGO_SECURE_SSL_REDIRECT must be one of 1/0, true/false, yes/no, on/off, not {value!r}"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), (" Yes ", True), ("on", True), ("0", False), ("False", False), ("no", False)],
)
def test_a_boolean_variable_reads_the_usual_spellings_in_any_case(
    value: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECURE_SSL_REDIRECT", value)
    assert env_bool("DJANGO_SECURE_SSL_REDIRECT", not expected) is expected


def test_the_settings_read_their_variables_at_start_and_refuse_to_start_on_an_unreadable_one() -> None:
    """The readers above are what the settings use: a fresh process reads a spelling, keeps an unset
    variable's default, and refuses to start on an unreadable value, naming the variable."""
    result = import_settings("print(settings.SECURE_SSL_REDIRECT, settings.DEBUG)", DJANGO_SECURE_SSL_REDIRECT=" Yes ")
    assert result.returncode == 0, result.stderr
    # Unset, DJANGO_DEBUG keeps its development default.
    assert result.stdout.split() == ["True", "True"]
    refused = import_settings("print(settings.SECURE_SSL_REDIRECT)", DJANGO_SECURE_SSL_REDIRECT="ture")
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr
    assert "DJANGO_SECURE_SSL_REDIRECT must be one of 1/0, true/false, yes/no, on/off, not 'ture'" in refused.stderr


def test_a_number_variable_that_is_not_a_number_refuses_to_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    result = import_settings("print(settings.AXES_FAILURE_LIMIT)", CELLBATCH_LOCKOUT_FAILURES="five")
    assert result.returncode != 0
    assert "CELLBATCH_LOCKOUT_FAILURES must be a whole number, not 'five'" in result.stderr
    monkeypatch.setenv("CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS", "1s")
    with pytest.raises(ImproperlyConfigured, match="CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS must be a number, not '1s'"):
        env_float("CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS", 0.0)
    monkeypatch.setenv("CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS", " 0.5 ")
    assert env_float("CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS", 0.0) == 0.5


def test_axes_middleware_is_last() -> None:
    """django-axes documents that AxesMiddleware must be the last middleware."""
    from django.conf import settings

    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"
    assert len(settings.MIDDLEWARE) == len(set(_settings_value("MIDDLEWARE")))


def _settings_tree() -> ast.Module:
    return ast.parse((ROOT / "config" / "settings.py").read_text())


def _settings_value(name: str) -> list[str]:
    for node in _settings_tree().body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
                return list(ast.literal_eval(node.value))
    raise AssertionError(f"{name} is not assigned in config/settings.py")


def test_every_setting_is_assigned_once_and_never_changed_later() -> None:
    """The settings read top to bottom: no name assigned twice, no list or dict extended further down."""
    assigned: list[str] = []
    changed: list[str] = []
    for node in _settings_tree().body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                assigned += [n.id for n in names if isinstance(n, ast.Name)]
                changed += [ast.unparse(n) for n in names if isinstance(n, ast.Subscript | ast.Attribute)]
        elif isinstance(node, ast.AugAssign):
            changed.append(ast.unparse(node.target))
        elif isinstance(node, ast.If | ast.Try | ast.For | ast.With):
            # Branches assigning a setting twice (if/else) hide a second definition: use a function.
            changed += [ast.unparse(n) for n in ast.walk(node) if isinstance(n, ast.Assign | ast.AnnAssign)]
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id.isupper():
                changed.append(ast.unparse(node))
    twice = sorted({name for name in assigned if assigned.count(name) > 1})
    assert twice == []
    assert changed == []
    assert "EMAIL_FILE_PATH" in assigned
    assert "CELERY_BEAT_SCHEDULE" in assigned


def test_imports_are_at_the_top_of_the_settings() -> None:
    body = _settings_tree().body
    first_other = next(
        i
        for i, node in enumerate(body)
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    )
    assert not [ast.unparse(n) for n in body[first_other:] if isinstance(n, ast.Import | ast.ImportFrom)]

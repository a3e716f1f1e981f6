"""Reading settings from the environment: a value that cannot be read refuses to start, naming the variable.

``ture`` for a boolean or ``5m`` for a number fails at start-up instead of silently meaning something else.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_true_words = frozenset({"1", "true", "yes", "on"})
_false_words = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool) -> bool:
    """A yes/no variable; unset or empty gives ``default``, anything unreadable refuses to start."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _true_words:
        return True
    if value in _false_words:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off, not {os.environ[name]!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {os.environ[name]!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {os.environ[name]!r}") from None


def env_list(name: str) -> list[str]:
    """A comma-separated variable as a list, empty items dropped."""
    return [item for item in os.environ.get(name, "").split(",") if item]

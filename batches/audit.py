"""Audit capture: which tables are GMP records, and the context (actor, reason) their events carry.

Every GMP model is registered with :func:`gmp_model`; PostgreSQL triggers (django-pghistory)
then record each insert, update and delete, whatever path the write takes. Services open
:func:`audit_context` so that the events name the acting user and the reason for the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pghistory
from django.contrib.auth.models import User
from django.db import models

M = TypeVar("M", bound=type[models.Model])

GMP_MODELS: list[type[models.Model]] = []


def gmp_model(model: M) -> M:
    """Register ``model`` as a GMP record and track every change to it in an append-only event table."""
    tracked = pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        append_only=True,
    )(model)
    GMP_MODELS.append(tracked)
    return tracked


def actor_label(user: User | str) -> str:
    """``username`` for a person, ``system:<name>`` for a task or command; never empty."""
    if isinstance(user, str):
        if not user:
            raise ValueError("an audit actor is never empty")
        return user if user.startswith("system:") else f"system:{user}"
    return str(user.get_username())


@contextmanager
def audit_context(actor: User | str, reason: str = "", **extra: object) -> Iterator[None]:
    """Attach actor and reason to every audit event written inside the block."""
    user_id = None if isinstance(actor, str) else actor.pk
    with pghistory.context(actor=actor_label(actor), user=user_id, reason=reason, **extra):
        yield

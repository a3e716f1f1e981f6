"""Helpers that make audit-trail tests one-liners: the events of a record, tampering, verification."""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from batches.dbrole import owner_session
from batches.ledger.trail import Entry, events_for_object


def events_for(obj: models.Model) -> list[Entry]:
    """Every audit event of ``obj``, oldest first: .action, .actor, .reason, .diff {field: (old, new)}."""
    return events_for_object(obj)


def last_event(obj: models.Model) -> Entry:
    events = events_for(obj)
    assert events, f"no audit event for {obj!r}"
    return events[-1]


def as_another_role(sql: str, params: list[Any] | None = None) -> None:
    """Run SQL as the owner (the suite's login role, not the application's), with no application
    context at all, like psql would (no pghistory context prefix)."""
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def with_triggers_off(sql: str, params: list[Any] | None = None) -> None:
    """A superuser switching every trigger off for one statement: no event, no append-only guard."""
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params or [])
        cursor.execute("SET session_replication_role = DEFAULT")


@dataclass(frozen=True)
class Verification:
    code: int
    out: str
    err: str


def verify() -> Verification:
    """Run ``manage.py verify_audit_trail``; code 0 means intact."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit_trail", "--no-progress", stdout=out, stderr=err)
    except CommandError as error:
        return Verification(error.returncode, out.getvalue(), err.getvalue() + str(error))
    return Verification(0, out.getvalue(), err.getvalue())

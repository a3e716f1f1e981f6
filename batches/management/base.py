"""Base class for CellBatch management commands: every write they make is attributed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from batches.audit import audit_context


class AuditedCommand(BaseCommand):
    """Runs ``handle`` inside ``audit_context("system:<command>")``; a service called inside may
    still open its own context with a user and a reason, which takes precedence for its writes."""

    audit_name = ""  # defaults to the command's module name, i.e. what ``manage.py`` calls it
    audit_reason = ""

    def execute(self, *args: Any, **options: Any) -> str | None:
        name = self.audit_name or self.__module__.rsplit(".", 1)[-1]
        with audit_context(f"system:{name}", reason=self.audit_reason):
            return super().execute(*args, **options)

"""Integrity alarms: what the scheduled verification found, and the schema changes PostgreSQL recorded.

Both tables are append-only like the ledger (no UPDATE, DELETE or TRUNCATE): a finding, once
written, is evidence. A batch with a finding is flagged on its page and in the API.
"""

from __future__ import annotations

from django.db import models

from batches.models.batch import Batch
from batches.models.ledger import AuditVerification, append_only


class FindingKind(models.TextChoices):
    CHAIN = "chain", "Ledger chain or checkpoint"
    EVENT = "event", "Sealed audit event"
    ROW = "row", "GMP row"
    SCHEMA = "schema", "Trigger disabled or schema changed"


class IntegrityFinding(models.Model):
    """One broken thing a verification run reported, and the batch it belongs to when there is one."""

    verification = models.ForeignKey(AuditVerification, on_delete=models.PROTECT, related_name="findings")
    kind = models.CharField(max_length=8, choices=FindingKind.choices)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="integrity_findings")
    table = models.CharField(max_length=100, blank=True, help_text="App label and model of the row or event.")
    object_id = models.BigIntegerField(null=True, blank=True, help_text="Row id, or event id for an event.")
    problem = models.TextField(help_text="What the verification reported, as printed by verify_audit_trail.")

    class Meta:
        ordering = ["-verification_id", "pk"]
        triggers = append_only()

    def __str__(self) -> str:
        return self.problem


class SchemaChange(models.Model):
    """A DDL statement on the database's tables, written by a PostgreSQL event trigger (ENABLE ALWAYS:
    it also fires with ``session_replication_role = replica``)."""

    at = models.DateTimeField(db_default=models.Func(function="clock_timestamp"))
    command_tag = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_identity = models.TextField(blank=True)
    db_role = models.CharField(max_length=64, help_text="current_user of the statement.")
    session_role = models.CharField(max_length=64, help_text="session_user (the login role).")
    statement = models.TextField(help_text="The statement as sent (first 2,000 characters).")
    disables_trigger = models.BooleanField(
        default=False, help_text="ALTER TABLE … DISABLE TRIGGER or ENABLE REPLICA TRIGGER."
    )

    class Meta:
        ordering = ["pk"]
        triggers = append_only()

    def __str__(self) -> str:
        return f"{self.command_tag} {self.object_identity} by {self.db_role}"

"""The audit ledger: audit events sealed in order into a SHA-256 hash chain, and signed checkpoints.

Both tables are append-only (no UPDATE, DELETE or TRUNCATE, enforced by triggers): a seal or a
checkpoint, once written, is evidence.
"""

from __future__ import annotations

import pgtrigger
from django.db import models

from batches.audit import no_truncate


def append_only() -> list[pgtrigger.Trigger]:
    return [
        pgtrigger.Protect(name="ledger_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        no_truncate("ledger_no_truncate"),
    ]


class AuditSeal(models.Model):
    """One sealed audit event: hash = SHA-256(header of sequence, event and previous hash ‖ payload)."""

    sequence = models.BigIntegerField(primary_key=True, help_text="1, 2, 3... without gaps.")
    event_model = models.CharField(max_length=100, help_text="App label and model of the event table.")
    event_id = models.IntegerField(help_text="pgh_id of the event.")
    payload = models.BinaryField(help_text="The event row as sealed (UTF-8 JSON): the exact bytes hashed.")
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sequence"]
        triggers = append_only()
        constraints = [
            models.UniqueConstraint(fields=["event_model", "event_id"], name="audit_seal_event_once"),
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="audit_seal_sequence_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event_model}:{self.event_id}"


class AuditCheckpoint(models.Model):
    """The chain head at a moment, signed with the organisation key."""

    head_sequence = models.BigIntegerField(help_text="Sequence of the last sealed event (0: empty chain).")
    head_hash = models.CharField(max_length=64)
    event_count = models.BigIntegerField()
    created_at = models.DateTimeField()
    statement = models.BinaryField(help_text="The exact bytes signed.")
    signature = models.BinaryField(help_text="RSA PKCS#1 v1.5 / SHA-256 over the statement.")
    certificate_sha256 = models.CharField(max_length=64, help_text="Fingerprint of the signing certificate.")

    class Meta:
        ordering = ["pk"]
        get_latest_by = "pk"
        triggers = append_only()

    def __str__(self) -> str:
        return f"checkpoint {self.pk}: {self.event_count} events, head {self.head_hash[:12]}"

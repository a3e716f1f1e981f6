"""The audit ledger: audit events sealed in order into a SHA-256 hash chain, and signed checkpoints.

Both tables are append-only (no UPDATE, DELETE or TRUNCATE, enforced by triggers): a seal or a
checkpoint, once written, is evidence.
"""

from __future__ import annotations

import pgtrigger
from django.db import models

from batches.audit import no_truncate
from batches.models.checks import ChecksInOneQuery


def append_only() -> list[pgtrigger.Trigger]:
    return [
        pgtrigger.Protect(name="ledger_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        no_truncate("ledger_no_truncate"),
    ]


class AuditSeal(ChecksInOneQuery):
    """One sealed audit event: hash = SHA-256(header of sequence, event and previous hash ‖ payload)."""

    sequence = models.BigIntegerField(primary_key=True, help_text="1, 2, 3... without gaps.")
    event_model = models.CharField(max_length=100, help_text="App label and model of the event table.")
    event_id = models.IntegerField(help_text="pgh_id of the event.")
    payload = models.BinaryField(help_text="The event row as sealed (UTF-8 JSON): the exact bytes hashed.")
    event_xmin = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="xmin of the event's row version when sealed (part of the hash); any rewrite of the row changes it.",
    )
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


class VerificationMode(models.TextChoices):
    FULL = "full", "Full: the whole chain and every row"
    INCREMENTAL = "incremental", "Incremental: what is new since the last intact run"


class AuditVerification(models.Model):
    """One run of the audit-trail verification and its result.

    The latest intact run is the position the next incremental run starts from: the chain head it
    checked, and per event table the last event it saw and the first one still awaiting a seal.
    """

    mode = models.CharField(max_length=12, choices=VerificationMode.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    from_sequence = models.BigIntegerField(help_text="First ledger sequence this run read.")
    head_sequence = models.BigIntegerField(help_text="Last ledger sequence of the intact chain.")
    head_hash = models.CharField(max_length=64)
    seals_checked = models.BigIntegerField()
    rows_checked = models.BigIntegerField()
    marks = models.JSONField(
        default=dict, help_text="Per event table: [last event id seen, first event id awaiting a seal]."
    )
    ok = models.BooleanField()
    problems = models.JSONField(default=list)

    class Meta:
        ordering = ["pk"]
        get_latest_by = "pk"
        triggers = append_only()

    def __str__(self) -> str:
        return f"{self.mode} verification {self.pk}: {'intact' if self.ok else 'BROKEN'}"


class SealProgress(models.Model):
    """Where the next sealing run starts reading each event table (one row; batches.ledger.seal).

    Not evidence: a hint that keeps sealing proportional to what is new. ``bound`` holds, per event
    table, an id at or below which every committed event is sealed; ``pending`` the runs whose
    bound waits for the transactions that were still open when they ran. Lost or reset, sealing
    reads every table again; an event left unsealed is reported by every verification run.
    """

    bound = models.JSONField(default=dict, help_text="Per event table: every event up to this id is sealed.")
    pending = models.JSONField(
        default=list,
        help_text="Runs waiting for transactions open when they ran: [those transactions, last id of each table then].",
    )

    class Meta:
        verbose_name = "sealing progress"
        verbose_name_plural = "sealing progress"

    def __str__(self) -> str:
        return f"sealing progress ({len(self.pending)} runs pending)"

"""People behind the records: each account's personal identity, the periodic access review, and who
performed an entry that someone else transcribed from a source (21 CFR 11.10(d, i), 11.100(a))."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


@gmp_model
class PersonalIdentity(models.Model):
    """The one person an account belongs to: full name, unique employee number, unique e-mail."""

    # Users are never deleted (a database trigger refuses it, with its own message); the key still holds.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="identity")
    full_name = models.CharField(max_length=limits.NAME)
    employee_number = models.CharField(max_length=30, unique=True)
    email = models.EmailField(max_length=254)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "personal identities"
        triggers = [no_delete()]
        constraints = [models.UniqueConstraint(Lower("email"), name="personal_identity_email_unique")]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_number})"


@gmp_model
class AccessReview(models.Model):
    """A periodic access review: the report of accounts, roles, last login and training, signed by QA."""

    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField()
    report = models.JSONField(help_text="Every account as it stood when the review was signed.")
    report_sha256 = models.CharField(max_length=64)
    findings = BoundedTextField(max_length=limits.NARRATIVE, help_text="What the reviewer found and what follows.")

    class Meta:
        ordering = ["-reviewed_at", "-pk"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return gettext("Access review of %(day)s by %(reviewer)s") % {
            "day": formatting.day(self.reviewed_at),
            "reviewer": self.reviewed_by,
        }


@gmp_model
class EntrySource(ChecksInOneQuery):
    """An entry transcribed from a source: who performed the work, who recorded it, and from what.

    The performer may have no account (a ward nurse): then a name and staff number identify them.
    """

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="entry_sources")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    entry = GenericForeignKey("content_type", "object_id")
    performer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performer_name = models.CharField(max_length=limits.NAME)
    performer_staff_number = models.CharField(max_length=30, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source_reference = models.CharField(
        max_length=limits.NAME, help_text="The source document, e.g. 'Ward 4 G-CSF log, page 12'."
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"], name="entry_source_one_per_entry"),
            models.CheckConstraint(
                condition=models.Q(performer__isnull=False) | ~models.Q(performer_staff_number=""),
                name="entry_source_performer_identified",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"performed by {self.performer_name}, recorded by user #{self.recorded_by_id} from {self.source_reference}"
        )

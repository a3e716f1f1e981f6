"""The pseudonymous trial subject: no name, national ID or hospital number, anywhere."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from batches.audit import gmp_model
from batches.models.checks import ChecksInOneQuery
from batches.models.indexes import prefix_search

subject_code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{2,19}$",
    "A subject code is 3 to 20 capital letters, digits or hyphens (a pseudonym, never a name or ID number).",
)


@gmp_model
class Patient(ChecksInOneQuery):
    subject_code = models.CharField(max_length=20, unique=True, validators=[subject_code_validator])
    consent_date = models.DateField()
    body_weight_kg = models.DecimalField(
        "body weight (kg)",
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("30")), MaxValueValidator(Decimal("250"))],
    )
    eligibility_confirmed = models.BooleanField(default=False)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    enrolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subject_code"]
        indexes = [models.Index(prefix_search("subject_code"), name="patient_subject_prefix_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(body_weight_kg__gte=30) & models.Q(body_weight_kg__lte=250),
                name="patient_body_weight_plausible",
            ),
        ]

    def __str__(self) -> str:
        return self.subject_code

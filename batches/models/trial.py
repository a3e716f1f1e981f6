"""The clinical trial a process definition is made for, and the product specification file (PSF) version the
Qualified Person certifies against (EU GMP for ATMPs, Part IV ch. 11; Regulation (EU) 536/2014).

Its own small record, referenced from the process definition, so that the trial's identifiers are written
once and printed on every record of every batch made under it.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.triggers import no_delete


@gmp_model
class ClinicalTrial(models.Model):
    eu_ct_number = models.CharField(
        "EU CT number", max_length=20, unique=True, help_text="CTIS number, e.g. 2024-512345-21-00."
    )
    protocol = models.CharField(max_length=limits.NAME, help_text="Protocol code, title and version.")
    sponsor = models.CharField(max_length=limits.NAME)
    sites = BoundedTextField(
        "investigational sites", max_length=limits.DESCRIPTION, help_text="One site a line: name, city, country."
    )
    psf_reference = models.CharField(
        "product specification file",
        max_length=limits.NAME,
        help_text="Reference and version of the product specification file the QP certifies against.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["eu_ct_number"]
        # A new protocol or PSF version is a new record; the printed references never change under a batch.
        triggers = [no_delete(), pgtrigger.Protect(name="clinical_trial_read_only", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return f"EU CT {self.eu_ct_number} ({self.protocol})"

    @property
    def site_list(self) -> list[str]:
        return [line.strip() for line in self.sites.splitlines() if line.strip()]

    def references(self) -> dict[str, object]:
        """What a certification binds and the record prints."""
        return {
            "eu_ct_number": self.eu_ct_number,
            "protocol": self.protocol,
            "sponsor": self.sponsor,
            "sites": self.site_list,
            "psf": self.psf_reference,
        }

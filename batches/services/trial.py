"""Clinical trials: the EU CT number, protocol, sponsor, sites and PSF version a process definition names."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from batches.audit import audit_context
from batches.models import ClinicalTrial
from batches.roles import Domain, Role, require_role

TRIAL_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.ADMIN)
TRIAL_FIELDS = ("eu_ct_number", "protocol", "sponsor", "sites", "psf_reference")


@transaction.atomic
def clinical_trial_create(*, actor: User, values: dict[str, Any]) -> ClinicalTrial:
    """Record a trial and the PSF version; a new protocol or PSF version is a new record (never an edit)."""
    require_role(actor, *TRIAL_ROLES, action="Recording a clinical trial", domain=Domain.MASTER_DATA)
    cleaned = {name: str(values.get(name) or "").strip() for name in TRIAL_FIELDS}
    trial = ClinicalTrial(**cleaned, created_by=actor)
    trial.full_clean()
    with audit_context(actor, reason=f"clinical trial {cleaned['eu_ct_number']} recorded"):
        trial.save()
    return trial

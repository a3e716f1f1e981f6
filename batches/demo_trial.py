"""The demonstration clinical trial and PSF version that demo and test process definitions name."""

from __future__ import annotations

from django.contrib.auth.models import User

from batches.models import ClinicalTrial
from batches.services.trial import clinical_trial_create

DEMO_TRIAL = {
    "eu_ct_number": "2025-500123-41-00",
    "protocol": "IGX1-AS-01 v3.0: autologous CD133+ cells in refractory Asherman syndrome",
    "sponsor": "Fundación IGX (demonstration sponsor)",
    "sites": "Hospital Universitario La Paz, Madrid, Spain\nHospital Clínic, Barcelona, Spain",
    "psf_reference": "PSF-IGX1 version 4.0",
}


def demo_trial(actor: User) -> ClinicalTrial:
    existing = ClinicalTrial.objects.filter(eu_ct_number=DEMO_TRIAL["eu_ct_number"]).first()
    return existing or clinical_trial_create(actor=actor, values=DEMO_TRIAL)

"""The demo: idempotent seeding, every role can log in, batches in every state."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from batches.models import (
    Batch,
    BatchTransition,
    ElectronicSignature,
    Equipment,
    EquipmentUse,
    LineClearance,
    LotUse,
    MaterialLot,
)
from batches.states import BatchStatus

DEMO_USERS = [
    "operator",
    "verifier",
    "qc_analyst",
    "qa_reviewer",
    "qualified_person",
    "clinician",
    "auditor",
    "materials",
    "admin",
]


@pytest.mark.django_db
@pytest.mark.urs("URS-122", "URS-348")
def test_seed_demo_covers_every_state_lets_every_role_log_in_and_is_idempotent(signing_pki, settings) -> None:
    settings.DEMO_PASSWORD = "demo-password-for-tests-9"
    call_command("seed_demo", stdout=io.StringIO())
    states = set(Batch.objects.values_list("status", flat=True))
    assert states == set(BatchStatus.values), f"missing: {set(BatchStatus.values) - states}"

    for username in DEMO_USERS:
        client = Client()
        response = client.post("/admin/login/?next=/admin/", {"username": username, "password": settings.DEMO_PASSWORD})
        assert response.status_code == 302, f"{username} cannot log in"
        assert client.get("/admin/").status_code == 200, f"{username} has no admin index"

    # The register: one research-use-only lot, one expired, one in quarantine, one instrument past its
    # calibration, and cabinets still holding the last patient's product; every made batch scanned its inputs.
    assert MaterialLot.objects.filter(material__grade="ruo", status="released").exists()
    assert MaterialLot.objects.filter(status="expired").exists()
    assert MaterialLot.objects.filter(status="quarantine").exists()
    assert Equipment.objects.filter(kind="instrument", calibration_due__lt=timezone.localdate()).exists()
    selected = Batch.objects.filter(selection__isnull=False)
    assert selected.exists()
    for batch in selected:
        assert LotUse.objects.filter(batch=batch, step_kind="selection").count() == 5
        assert EquipmentUse.objects.filter(batch=batch, step_kind="selection", equipment__kind="cabinet").exists()
    last_use = EquipmentUse.objects.filter(equipment__kind="cabinet").order_by("-used_until").first()
    assert last_use is not None
    assert not LineClearance.objects.filter(
        workstation=last_use.equipment, performed_at__gte=last_use.used_until
    ).exists()

    counts = (Batch.objects.count(), BatchTransition.objects.count(), ElectronicSignature.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Batch.objects.count(), BatchTransition.objects.count(), ElectronicSignature.objects.count()) == counts

"""The demo: idempotent seeding, every role can log in, batches in every state."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
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
    RecordException,
)
from batches.states import BatchStatus


def demo_training_is_seeded() -> None:
    """The demo batches were walked by trained users; one training lapsed; one SOP version is still to come."""
    from batches.competence import State, standing, version_in_force
    from batches.models import DocumentVersion

    operator, analyst = User.objects.get(username="operator"), User.objects.get(username="qc_analyst")
    mfg = DocumentVersion.objects.get(document__number="SOP-MFG-001", version=1)
    assert standing(operator, mfg).state == State.CURRENT
    lapsed = standing(analyst, mfg)
    assert lapsed.state == State.LAPSED
    assert "retraining was due on" in lapsed.detail
    future = DocumentVersion.objects.get(document__number="SOP-QC-001", version=2)
    assert future.status == "approved"
    assert future.effective_from > timezone.localdate()
    assert version_in_force(future, timezone.localdate()) is None
    assert all(hasattr(u, "identity") for u in User.objects.filter(groups__isnull=False))


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
@pytest.mark.urs("URS-309")
def test_seed_demo_covers_every_state_lets_every_role_log_in_and_is_idempotent(
    empty_database: None, signing_pki, settings
) -> None:
    settings.DEMO_PASSWORD = "demo-password-for-tests-9"
    call_command("seed_demo", stdout=io.StringIO())
    states = set(Batch.objects.values_list("status", flat=True))
    assert states == set(BatchStatus.values), f"missing: {set(BatchStatus.values) - states}"
    demo_training_is_seeded()

    for username in DEMO_USERS:
        client = Client()
        response = client.post("/admin/login/?next=/admin/", {"username": username, "password": settings.DEMO_PASSWORD})
        assert response.status_code == 302, f"{username} cannot log in"
        assert client.get("/admin/").status_code == 200, f"{username} has no admin index"

    # Alert values are accepted with a reason (the warm shipper), and sterility read early is preliminary.
    warm = RecordException.objects.filter(batch__patient__subject_code="DEMO-S003", kind="alert_range")
    sources = sorted(warm.values_list("source", flat=True))
    assert sources == ["Dispatch", "Laboratory → interventional radiology: receipt"]
    assert RecordException.objects.filter(kind="preliminary_result", batch__patient__subject_code="DEMO-S001").exists()
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

"""The demo: idempotent seeding, every role can log in, batches in every state."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from batches.models import Batch, BatchTransition, ElectronicSignature, RecordException
from batches.states import BatchStatus

DEMO_USERS = ["operator", "verifier", "qc_analyst", "qa_reviewer", "qualified_person", "clinician", "auditor", "admin"]


@pytest.mark.django_db
@pytest.mark.urs("URS-122")
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

    # Alert values are accepted with a reason (the warm shipper), and sterility read early is preliminary.
    warm = RecordException.objects.filter(batch__patient__subject_code="DEMO-S003", kind="alert_range")
    sources = sorted(warm.values_list("source", flat=True))
    assert sources == ["Dispatch", "Laboratory → interventional radiology: receipt"]
    assert RecordException.objects.filter(kind="preliminary_result", batch__patient__subject_code="DEMO-S001").exists()

    counts = (Batch.objects.count(), BatchTransition.objects.count(), ElectronicSignature.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Batch.objects.count(), BatchTransition.objects.count(), ElectronicSignature.objects.count()) == counts

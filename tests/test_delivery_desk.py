"""The admin delivery desk: clinicians record receipt, the bedside check and the infusion through services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from batches import demo_chain
from batches.models import Batch, BedsideCheck, CustodyEvent, IdentityScan
from tests.custody_helpers import dispatched_batch, scan_of
from tests.factories import PASSWORD, Personas, make_user
from tests.helpers import staff_client_for

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-119", "URS-105")
def test_desk_shows_only_the_next_step_and_refuses_a_wrong_scan_with_a_message(people: Personas) -> None:
    batch = dispatched_batch(people, receive=False)
    url = f"/admin/delivery-desk/{batch.pk}/"
    clinician = staff_client_for(people.clinician)
    page = clinician.get(url).content.decode()
    assert 'value="receipt_scan"' in page
    assert 'value="bedside_scan"' not in page

    wrong = clinician.post(url, {"action": "receipt_scan", "scanned_data": "=G12341765432170"}, follow=True)
    assert "Wrong product" in wrong.content.decode()
    assert IdentityScan.objects.filter(batch=batch, matched=False).count() == 1
    assert clinician.post(url, {"action": "bedside_scan"}, follow=True).status_code == 200
    assert not BedsideCheck.objects.exists()

    second = staff_client_for(make_user("clinician_b", "clinician"))
    second.post(url, {"action": "receipt_scan", "scanned_data": scan_of(batch)})
    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    csv = demo_chain.logger_csv(event.handed_over_at - timedelta(minutes=1), timezone.now())
    received = clinician.post(
        url,
        {
            "action": "receive",
            "scanned_data": scan_of(batch),
            "temperature_c": "5.0",
            "logger_model": demo_chain.demo_logger_model().name,
            "logger_file": SimpleUploadedFile("shipper.csv", csv, content_type="text/csv"),
        },
        follow=True,
    )
    assert "Recorded." in received.content.decode()
    scan = {"scanned_data": scan_of(batch), "password": PASSWORD, "patient_subject_code": "IGX1-S001"}
    clinician.post(url, {"action": "bedside_scan", **scan})
    same = clinician.post(url, {"action": "bedside_confirm", **scan}, follow=True)
    assert "second clinician" in same.content.decode()
    second.post(url, {"action": "bedside_confirm", **scan})
    assert BedsideCheck.objects.get(batch=batch).is_confirmed

    start = timezone.localtime() - timedelta(seconds=20)
    infused = clinician.post(
        url,
        {
            "action": "infusion",
            "started_at": start.strftime("%Y-%m-%d %H:%M:%S"),
            "ended_at": timezone.localtime().strftime("%Y-%m-%d %H:%M:%S"),
            "left_cells": "50000000",
            "left_volume_ml": "4.5",
            "right_cells": "50000000",
            "right_volume_ml": "4.5",
            "password": PASSWORD,
        },
        follow=True,
    )
    assert "Recorded and signed." in infused.content.decode()
    assert Batch.objects.get(pk=batch.pk).status == "infused"
    assert 'value="follow_up"' in infused.content.decode()

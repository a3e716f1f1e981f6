"""The first clinician's bedside scan is recorded at once (attributed, audited, time-stamped) and signed by that
clinician with the infusion they record: one password entry, each record its own signature, both listed with
their hashes in a signed manifest; the second clinician's confirmation stays signed on its own, the infusion
still comes after both, and the scan may also be signed on its own when someone else infuses."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from batches.exceptions import StateConflict
from batches.models import BedsideCheck, ElectronicSignature, Infusion, SignatureManifest
from batches.release import bedside, delivery
from batches.signature_checks import SignatureState, signature_states
from tests.custody_helpers import dispatched_batch, infusion_values, scan_of
from tests.factories import PASSWORD, Personas, make_user
from tests.helpers import assert_nothing_written, gmp_row_counts, staff_client_for

pytestmark = pytest.mark.django_db


def scanned_and_confirmed(people: Personas, second) -> BedsideCheck:
    """Dispatched and received; the first clinician's scans recorded without a password, confirmed by a second."""
    batch = dispatched_batch(people)
    scans = {"scanned_data": scan_of(batch), "patient_subject_code": "IGX1-S001"}
    check = bedside.bedside_check_scan(actor=people.clinician, batch_id=batch.pk, **scans)
    bedside.bedside_check_confirm(actor=second, batch_id=batch.pk, password=PASSWORD, **scans)
    check.refresh_from_db()
    return check


def signatures_of(record) -> list[ElectronicSignature]:
    return list(ElectronicSignature.objects.filter(content_type__model=record._meta.model_name, object_id=record.pk))


@pytest.mark.urs("URS-452")
def test_the_first_scan_is_signed_with_the_infusion_in_one_act_listing_both_records(people: Personas) -> None:
    second = make_user("clinician_b", "clinician")
    check = scanned_and_confirmed(people, second)
    batch = check.batch
    # Recorded and attributed at once, not yet signed by its clinician; the confirmation is signed.
    assert (check.checked_by, check.checked_at is not None) == (people.clinician, True)
    event = BedsideCheck.pgh_event_model.objects.filter(pgh_obj_id=check.pk).first()  # type: ignore[attr-defined]
    assert event.pgh_context["actor"] == "clinician"
    assert [(s.signer, s.meaning) for s in signatures_of(check)] == [(second, "verified")]
    assert not bedside.first_scan_signed(check)

    infusion = delivery.infusion_record(
        actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values()
    )
    assert bedside.first_scan_signed(check)
    (first,) = [s for s in signatures_of(check) if s.meaning == "performed"]
    (infused,) = signatures_of(infusion)
    assert first.signer == infused.signer == people.clinician
    manifest = SignatureManifest.objects.get(pk=first.manifest_id)
    assert infused.manifest_id == manifest.pk
    assert (
        manifest.statement == f"Scanned the bag and the wristband at the bedside and infused batch {batch.batch_number}"
    )
    assert [(e["record"], e["pk"], e["sha256"]) for e in manifest.entries] == [
        ("batches.bedsidecheck", check.pk, first.content_sha256),
        ("batches.infusion", infusion.pk, infused.content_sha256),
    ]
    (sealed,) = signatures_of(manifest)
    assert (sealed.signer, sealed.meaning) == (people.clinician, "performed")
    # The first clinician's signature binds the first scan's fields only, signed after the confirmation.
    bound = set(json.loads(first.content)["fields"])
    assert bound == {"batch_id", "patient_subject_code", "scanned_data", "checked_by_id", "checked_at"}
    states = signature_states(batch)
    assert states
    assert [(c.signature.pk, c.detail) for c in states if c.state != SignatureState.VALID] == []


@pytest.mark.urs("URS-452")
def test_while_the_first_scan_is_unsigned_only_its_clinician_records_the_infusion(people: Personas) -> None:
    second = make_user("clinician_b", "clinician")
    third = make_user("clinician_c", "clinician")
    check = scanned_and_confirmed(people, second)
    before = gmp_row_counts()
    for other in (second, third):
        with pytest.raises(StateConflict, match="clinician made the first bedside scan and has not signed it"):
            delivery.infusion_record(actor=other, batch_id=check.batch_id, password=PASSWORD, **infusion_values())
    with pytest.raises(PermissionDenied):
        delivery.infusion_record(actor=people.clinician, batch_id=check.batch_id, password="wrong", **infusion_values())
    assert_nothing_written(before)
    assert not Infusion.objects.exists()
    assert not bedside.first_scan_signed(check)


@pytest.mark.urs("URS-452")
def test_the_first_clinician_signs_the_scan_on_its_own_when_another_clinician_infuses(people: Personas) -> None:
    second = make_user("clinician_b", "clinician")
    check = scanned_and_confirmed(people, second)
    with pytest.raises(PermissionDenied, match="only they sign it"):
        bedside.bedside_check_sign(actor=second, batch_id=check.batch_id, password=PASSWORD)
    bedside.bedside_check_sign(actor=people.clinician, batch_id=check.batch_id, password=PASSWORD)
    with pytest.raises(StateConflict, match="already signed"):
        bedside.bedside_check_sign(actor=people.clinician, batch_id=check.batch_id, password=PASSWORD)
    (first,) = [s for s in signatures_of(check) if s.meaning == "performed"]
    assert (first.signer, first.manifest_id) == (people.clinician, None)

    infusion = delivery.infusion_record(actor=second, batch_id=check.batch_id, password=PASSWORD, **infusion_values())
    (infused,) = signatures_of(infusion)
    assert (infused.signer, infused.manifest_id) == (second, None)
    assert not [c for c in signature_states(check.batch) if c.state != SignatureState.VALID]


@pytest.mark.urs("URS-452")
def test_the_desk_records_the_first_scan_without_a_password_and_the_infusion_signs_it(people: Personas) -> None:
    batch = dispatched_batch(people)
    desk = reverse("admin:batches_delivery_desk", args=[batch.pk])
    clinician = staff_client_for(people.clinician)
    second = staff_client_for(make_user("clinician_b", "clinician"))
    scans = {"scanned_data": scan_of(batch), "patient_subject_code": "IGX1-S001"}
    form = clinician.get(desk).content.decode()
    assert 'id="id_bedside_scan_password"' not in form  # the scans alone: no password entry here

    recorded = clinician.post(desk, {"action": "bedside_scan", **scans}, follow=True).content.decode()
    assert "Recorded. (Bedside identity check)" in recorded
    assert "The first bedside scan, by clinician, is not signed yet: clinician records the infusion" in recorded
    assert 'id="desk-bedside_sign"' in recorded
    check = BedsideCheck.objects.get(batch=batch)
    assert not bedside.first_scan_signed(check)

    refused = second.post(desk, {"action": "bedside_sign", "password": PASSWORD}).content.decode()
    assert "only they sign it" in refused
    assert not bedside.first_scan_signed(check)
    second.post(desk, {"action": "bedside_confirm", "password": PASSWORD, **scans})
    signed = clinician.post(desk, {"action": "bedside_sign", "password": PASSWORD}, follow=True).content.decode()
    assert "Recorded and signed. (Sign the first bedside scan on its own)" in signed
    assert bedside.first_scan_signed(check)
    assert 'id="desk-bedside_sign"' not in signed


@pytest.mark.urs("URS-452")
def test_the_api_records_the_first_scan_with_or_without_its_signature(people: Personas) -> None:
    from tests.helpers import client_for

    batch = dispatched_batch(people)
    api = client_for(people.clinician, "api")
    scans = {"scanned_data": scan_of(batch), "patient_subject_code": "IGX1-S001"}
    answer = api.post(f"/api/v1/batches/{batch.pk}/bedside-check/", scans, format="json")
    assert answer.status_code == 200, answer.content
    assert not bedside.first_scan_signed(BedsideCheck.objects.get(batch=batch))
    wrong = api.post(f"/api/v1/batches/{batch.pk}/bedside-confirm/", scans, format="json")
    assert wrong.status_code == 400  # the confirmation still needs its password

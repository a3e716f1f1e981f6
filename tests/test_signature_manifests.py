"""One act, one password entry, several records signed: G-CSF days verified, a sample's results recorded
and reviewed. Each record keeps its own signature naming the manifest; the manifest lists each record with
the hash of its signed content and is signed too."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from batches.models import Batch, ElectronicSignature, GcsfAdministration, SignatureManifest
from batches.services import batch as batch_services
from batches.services import gcsf_days, steps
from batches.signature_checks import SignatureState, canonical_content, signature_check
from qc.models import QcResult
from qc.services.sample_results import qc_results_review, qc_sample_results_record
from tests.factories import PASSWORD, Personas, gcsf_values, qc_sample, quarantined_batch, scans, walk_batch
from tests.helpers import nothing_written

pytestmark = [pytest.mark.django_db]


def record_days(people: Personas, batch_id: int, days: int) -> list[GcsfAdministration]:
    batch = Batch.objects.get(pk=batch_id)
    recorded = []
    for day in range(1, days + 1):
        values = gcsf_values(day, at=timezone.now() - timedelta(days=days - day, minutes=30))
        recorded.append(
            steps.step_record(
                kind="gcsf",
                batch_id=batch_id,
                actor=people.operator,
                password=PASSWORD,
                values=values,
                **scans(people, batch, "gcsf", values),
            )
        )
    return recorded


@pytest.mark.urs("URS-424")
def test_one_act_verifies_every_open_gcsf_day_each_signed_and_listed_with_its_hash(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    days = record_days(people, batch.pk, 4)

    manifest = gcsf_days.gcsf_days_verify(actor=people.verifier, batch_id=batch.pk, password=PASSWORD)

    assert manifest.statement == f"Verified G-CSF days 1, 2, 3, 4 of batch {batch.batch_number}"
    assert [e["pk"] for e in manifest.entries] == [d.pk for d in days]
    for day, entry in zip(days, manifest.entries, strict=True):
        day.refresh_from_db()
        assert day.verified_by == people.verifier
        signature = ElectronicSignature.objects.on(day).get(meaning="verified", manifest=manifest)
        assert entry["sha256"] == signature.content_sha256 == hashlib.sha256(canonical_content(day)).hexdigest()
        assert signature_check(signature).state == SignatureState.VALID
    # The list itself is signed: changing it afterwards is seen.
    own = ElectronicSignature.objects.on(manifest).get()
    assert own.meaning == "verified"
    assert signature_check(own).state == SignatureState.VALID
    batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)


@pytest.mark.urs("URS-424")
def test_a_day_the_verifier_performed_refuses_the_whole_act_and_nothing_is_written(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    record_days(people, batch.pk, 2)
    people.operator.groups.add(*people.verifier.groups.all())  # one person holding both roles
    both = User.objects.get(pk=people.operator.pk)
    with nothing_written(), pytest.raises(PermissionDenied, match="You performed G-CSF day 1; a second person"):
        gcsf_days.gcsf_days_verify(actor=both, batch_id=batch.pk, password=PASSWORD)


@pytest.mark.urs("URS-424")
def test_a_wrong_password_or_no_open_day_signs_nothing(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    with nothing_written(), pytest.raises(ValidationError, match="has no G-CSF day awaiting verification"):
        gcsf_days.gcsf_days_verify(actor=people.verifier, batch_id=batch.pk, password=PASSWORD)
    record_days(people, batch.pk, 1)
    with nothing_written(), pytest.raises(PermissionDenied):
        gcsf_days.gcsf_days_verify(actor=people.verifier, batch_id=batch.pk, password="not-the-password")
    assert not SignatureManifest.objects.exists()


def passing_rows() -> list[dict[str, object]]:
    return [
        {"test": "cd133_purity", "value": "92.5", "unit": "%", "instrument": "FACSCanto II"},
        {"test": "viability", "value": "95", "unit": "%", "instrument": "FACSCanto II"},
        {"test": "endotoxin", "value": "0.12", "unit": "EU/mL"},
        # Read before the method's 14 days: recorded as preliminary, with the reason (an exception for QA).
        {"test": "sterility", "value": "no growth", "preliminary_reason": "Day-2 reading; the culture continues."},
    ]


@pytest.mark.urs("URS-425")
def test_a_samples_results_are_recorded_and_reviewed_in_one_act_each(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    recorded = qc_sample_results_record(
        actor=people.qc_analyst,
        sample_id=sample.pk,
        results=passing_rows(),
        tested_at=timezone.now() - timedelta(minutes=2),
        password=PASSWORD,
    )
    results = list(QcResult.objects.filter(batch=batch).order_by("pk"))
    # Viability also records the calculated viable dose: five results, five performed signatures.
    assert len(results) == 5 == len(recorded.entries)
    assert {s.object_id for s in recorded.signatures.all()} == {r.pk for r in results}

    # Reviewed by someone independent of the batch's production (the verifier verified its steps).
    reviewer = people.qc_reviewer
    reviewed = qc_results_review(actor=reviewer, batch_id=batch.pk, sample_id=sample.pk, password=PASSWORD)
    assert reviewed.statement == f"Reviewed 5 QC results of sample {sample.sample_code}"
    assert all(r.verified_by == reviewer for r in QcResult.objects.filter(batch=batch))
    assert ElectronicSignature.objects.filter(manifest=reviewed, meaning="verified").count() == 5


@pytest.mark.urs("URS-425")
def test_one_refused_row_refuses_the_whole_record_and_names_the_test(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    rows = [*passing_rows()[:1], {"test": "endotoxin", "value": "lots", "unit": "EU/mL"}]
    with nothing_written(), pytest.raises(ValidationError) as refusal:
        qc_sample_results_record(
            actor=people.qc_analyst, sample_id=sample.pk, results=rows, tested_at=timezone.now(), password=PASSWORD
        )
    assert refusal.value.message_dict == {"endotoxin-value": ["Endotoxin: 'lots' is not a number."]}


@pytest.mark.urs("URS-425")
def test_the_analyst_cannot_review_their_own_results(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    qc_sample_results_record(
        actor=people.qc_analyst,
        sample_id=sample.pk,
        results=passing_rows()[:1],
        tested_at=timezone.now(),
        password=PASSWORD,
    )
    people.qc_analyst.groups.add(*people.verifier.groups.all())
    both = User.objects.get(pk=people.qc_analyst.pk)
    with nothing_written(), pytest.raises(PermissionDenied, match="You recorded CD133\\+ purity"):
        qc_results_review(actor=both, batch_id=batch.pk, password=PASSWORD)
    assert QcResult.objects.get(batch=batch).verified_by is None
    assert Decimal("92.5") == QcResult.objects.get(batch=batch).numeric_value


@pytest.mark.urs("URS-428")
def test_a_receipt_leaves_the_hand_overs_signature_valid_but_a_changed_signed_field_breaks_it(people: Personas) -> None:
    from batches.audit import audit_context
    from batches.models import CustodyEvent
    from qc import demo as qc_demo
    from tests.factories import crew, make_user, release_batch

    batch = release_batch(people, quarantined_batch(people))
    # Dispatched (signed), then received with two scans by two clinicians.
    two_clinicians = dataclasses.replace(crew(people), second_clinician=make_user("clinician_b", "clinician"))
    qc_demo.dispatch_batch(two_clinicians, batch)
    event = CustodyEvent.objects.get(batch=batch, received_at__isnull=False, kind="lab_to_radiology")
    signature = ElectronicSignature.objects.get(content_type__model="custodyevent", object_id=event.pk)
    assert signature_check(signature).state == SignatureState.VALID
    with audit_context(people.qa, reason="test: a signed field changed behind the service's back"):
        CustodyEvent.objects.filter(pk=event.pk).update(to_location="Elsewhere")
    assert signature_check(signature).detail == "the record was changed after signing"

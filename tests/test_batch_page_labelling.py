"""The delivery desk's labelling forms on the batch page: the operator prints the bag's label and signs the
packaging record where the steps are recorded, through the same forms and services as at the desk; a refusal
keeps what was typed and writes nothing; other roles get neither the forms nor the act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from batches.models import Batch, ElectronicSignature, Label, LabelPrint
from tests.factories import PASSWORD, Personas, quarantined_batch, record_passing_qc, walk_batch
from tests.helpers import assert_nothing_written, gmp_row_counts, staff_client_for

pytestmark = pytest.mark.django_db

PRINT = {"action": "label_print", "copies": "1", "printer": "ZD621-LAB-01", "label_format": "zpl", "reason": "first"}


def page(batch: Batch) -> str:
    return reverse("admin:batches_batch_change", args=[batch.pk])


def labelling(batch: Batch) -> str:
    return reverse("admin:batches_batch_labelling", args=[batch.pk])


@pytest.mark.urs("URS-451")
def test_the_collection_bags_label_is_printed_from_the_batch_page(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    operator = staff_client_for(people.operator)
    body = operator.get(page(batch)).content.decode()
    assert '<details class="cb-card cb-fold" id="batch-labels" open>' in body  # due now: open, above the steps
    assert body.index('id="batch-labels"') < body.index('id="record-form"')
    assert f'action="{labelling(batch)}"' in body
    assert '<option value="collection" selected>' in body

    printed = operator.post(labelling(batch), {**PRINT, "bag": "collection"})
    assert printed.status_code == 200
    assert printed["Content-Type"] == "application/zpl"
    assert printed["Content-Disposition"] == f'attachment; filename="labels-{batch.din}.zpl"'
    label = Label.objects.get(batch=batch, bag="collection")
    assert label.status == "issued"
    assert LabelPrint.objects.get(batch=batch).printed_by == people.operator
    again = operator.get(page(batch)).content.decode()
    assert label.label_id in again
    assert 'value="ZD621-LAB-01"' in again  # the next print names the same printer unless changed


@pytest.mark.urs("URS-451")
def test_a_refused_labelling_form_shows_again_as_typed_and_writes_nothing(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    before = gmp_row_counts()
    refused = staff_client_for(people.operator).post(
        labelling(batch), {**PRINT, "bag": "collection", "printer": "", "reason": "labels for the bag"}
    )
    assert refused.status_code == 200
    body = refused.content.decode()
    assert "Nothing was recorded" in body
    assert 'value="labels for the bag"' in body
    assert 'id="desk-label_print"' in body
    assert_nothing_written(before)


@pytest.mark.urs("URS-451")
def test_the_packaging_record_is_signed_from_the_batch_page_and_the_page_follows(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)
    record_passing_qc(people, batch, skip=())
    operator = staff_client_for(people.operator)
    assert 'id="desk-packaging"' in operator.get(page(batch)).content.decode()
    operator.post(labelling(batch), {**PRINT, "bag": "final"})
    final = Label.objects.get(batch=batch, bag="final")
    packaging = {
        "action": "packaging",
        "final_label": final.label_id,
        "container_type": "50 mL transfer bag",
        "container_lot": "TB-2291",
        "container_expiry": (timezone.localdate() + timedelta(days=300)).isoformat(),
        "appearance_ok": "on",
        "integrity_ok": "on",
        "label_ok": "on",
        "password": PASSWORD,
    }
    done = operator.post(labelling(batch), packaging, follow=True)
    assert done.redirect_chain == [(page(batch), 302)]
    assert "Recorded and signed." in done.content.decode()
    signed = ElectronicSignature.objects.filter(batch=batch, manifest__isnull=False, signer=people.operator)
    assert {s.content_type.model for s in signed} == {"labelreconciliation", "finalcontainer"}
    assert ElectronicSignature.objects.filter(object_id=signed[0].manifest_id, content_type__model="signaturemanifest")
    assert 'id="desk-packaging"' not in done.content.decode()


@pytest.mark.urs("URS-451")
@pytest.mark.parametrize("persona", ["verifier", "auditor", "qa"])
def test_only_operators_get_the_labelling_forms_and_the_act(people: Personas, persona: str) -> None:
    batch = walk_batch(people, "collection")
    client = staff_client_for(getattr(people, persona))
    body = client.get(page(batch)).content.decode()
    assert 'id="batch-labels"' not in body
    before = gmp_row_counts()
    refused = client.post(labelling(batch), {**PRINT, "bag": "collection"})
    assert "requires the role Operator" in refused.content.decode()
    assert_nothing_written(before)


@pytest.mark.urs("URS-451")
def test_a_labelling_form_not_open_in_the_batchs_state_is_refused(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")  # no DIN yet: nothing to label
    operator = staff_client_for(people.operator)
    assert 'id="batch-labels"' not in operator.get(page(batch)).content.decode()
    before = gmp_row_counts()
    answer = operator.post(labelling(batch), {**PRINT, "bag": "collection"}, follow=True)
    assert "That form is not open for this batch now" in answer.content.decode()
    assert_nothing_written(before)

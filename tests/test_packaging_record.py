"""One signed act at the end of labelling: the labels' reconciliation and the final container's inspection,
each record signed, one password entry, one signed manifest; a refusal of either writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.models import ElectronicSignature, FinalContainer, Label, LabelReconciliation, SignatureManifest
from batches.release import labelling
from tests.factories import PASSWORD, Personas, quarantined_batch
from tests.helpers import assert_nothing_written, gmp_row_counts
from tests.test_label_reconciliation import print_final

pytestmark = pytest.mark.django_db

CONTAINER = {"container_type": "50 mL transfer bag", "container_lot": "TB-2291", "appearance_ok": True}


def packaging(people: Personas, batch, **overrides):
    values = {
        **CONTAINER,
        "container_expiry": timezone.localdate() + timedelta(days=200),
        "integrity_ok": True,
        "label_ok": True,
        **overrides,
    }
    return labelling.packaging_record(actor=people.operator, batch_id=batch.pk, password=PASSWORD, **values)


@pytest.mark.urs("URS-416")
def test_one_entry_reconciles_the_labels_and_records_the_inspection_each_signed(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)
    label = print_final(people, batch, 1).event.labels.get().label_id
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=f"do not reconcile: .*1 unaccounted for: {label}"):
        packaging(people, batch)
    assert_nothing_written(before)
    with pytest.raises(ValidationError, match=f"Label X-1 is not a final bag label of batch {batch.batch_number}"):
        packaging(people, batch, final_label="x-1")
    assert_nothing_written(before)
    with pytest.raises(ValidationError, match="expired on"):
        packaging(people, batch, final_label=label, container_expiry=timezone.localdate() - timedelta(days=1))
    assert not LabelReconciliation.objects.filter(batch=batch).exists()  # the reconciliation went with it
    assert Label.objects.get(label_id=label).status == "issued"  # and so did the label's accounting
    assert_nothing_written(before)

    manifest = packaging(people, batch, final_label=label)  # scanned off the final bag: applied, then counted
    assert (Label.objects.get(label_id=label).status, Label.objects.get(label_id=label).accounted_by) == (
        "applied",
        people.operator,
    )
    reconciliation = LabelReconciliation.objects.get(batch=batch)
    container = FinalContainer.objects.get(batch=batch)
    assert container.passed
    signed = ElectronicSignature.objects.filter(manifest=manifest)
    assert {s.content_type.model for s in signed} == {"labelreconciliation", "finalcontainer"}
    assert {s.object_id for s in signed} == {reconciliation.pk, container.pk}
    assert all((s.signer, s.meaning) == (people.operator, "performed") for s in signed)
    assert SignatureManifest.objects.get(pk=manifest.pk).statement.startswith("Reconciled the labels")
    assert labelling.packaging_outstanding(batch) is None

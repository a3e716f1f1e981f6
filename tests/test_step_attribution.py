"""A step corrected by a second operator names both people: who recorded it and who corrected it."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.exceptions import PermissionDenied
from pypdf import PdfReader

from batches.models import ElectronicSignature, GcsfAdministration
from batches.pdf.collect import take_snapshot
from batches.pdf.render import render
from batches.roles import Role
from batches.services import steps
from batches.signature_checks import SignatureState, signature_check
from batches.snapshot import SCHEMA_VERSION, Snapshot
from tests.factories import PASSWORD, Personas, gcsf_values, make_user, scans, walk_batch
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def corrected_step(people: Personas) -> tuple[GcsfAdministration, object]:
    batch = walk_batch(people, "mobilization")
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(day=1),
        **scans(people, batch, "gcsf", gcsf_values(day=1)),
    )
    second = make_user("operator2", Role.OPERATOR, Role.VERIFIER, first_name="Olga")
    steps.step_correct(
        kind="gcsf",
        step_id=step.pk,
        actor=second,
        password=PASSWORD,
        values={"drug_lot": "FIL-24-118"},
        reason="lot number mistyped",
    )
    return GcsfAdministration.objects.get(pk=step.pk), second


@pytest.mark.urs("URS-208")
def test_a_correction_keeps_the_performer_and_names_the_corrector(people: Personas) -> None:
    step, second = corrected_step(people)
    assert step.performed_by == people.operator
    assert step.corrected_by == second
    assert step.corrected_at is not None
    assert step.corrected_at >= step.performed_at
    assert step.drug_lot == "FIL-24-118"


@pytest.mark.urs("URS-208")
def test_the_corrector_may_not_verify_the_step_a_third_person_may(people: Personas) -> None:
    step, second = corrected_step(people)
    with pytest.raises(PermissionDenied, match="corrected this step"):
        steps.step_verify(kind="gcsf", step_id=step.pk, verifier=second, password=PASSWORD)
    steps.step_verify(kind="gcsf", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    step.refresh_from_db()
    assert step.verified_by == people.verifier


@pytest.mark.urs("URS-208")
def test_signatures_stay_valid_with_and_without_a_correction(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(day=1),
        **scans(people, batch, "gcsf", gcsf_values(day=1)),
    )
    # An uncorrected step signs no corrector (so records signed before the column existed still match).
    assert states_of(step) == [SignatureState.VALID]
    corrected, _ = corrected_step_on(people, step)
    # The first signature is invalidated by the correction; the corrector's own signature matches the row.
    assert states_of(corrected) == [SignatureState.INVALIDATED, SignatureState.VALID]


def states_of(step: GcsfAdministration) -> list[SignatureState]:
    signatures = ElectronicSignature.objects.on(step).filter()
    stored = GcsfAdministration.objects.get(pk=step.pk)
    return [signature_check(s, stored).state for s in signatures.order_by("signed_at", "pk")]


def corrected_step_on(people: Personas, step: GcsfAdministration) -> tuple[GcsfAdministration, object]:
    second = make_user("operator3", Role.OPERATOR)
    steps.step_correct(
        kind="gcsf",
        step_id=step.pk,
        actor=second,
        password=PASSWORD,
        values={"drug_lot": "X-1"},
        reason="lot number typo",
    )
    return GcsfAdministration.objects.get(pk=step.pk), second


@pytest.mark.urs("URS-208")
def test_the_api_shows_the_performer_and_the_corrector(people: Personas) -> None:
    step, _ = corrected_step(people)
    answer = client_for(people.auditor, "api").get(f"/api/v1/steps/gcsf/{step.pk}/").json()
    assert answer["performed_by"] == "operator"
    assert answer["corrected_by"] == "operator2"
    assert answer["corrected_at"]
    listed = client_for(people.auditor, "api").get(f"/api/v1/batches/{step.batch_id}/steps/gcsf/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["corrected_by"] == "operator2"


@pytest.mark.urs("URS-208")
def test_the_signed_record_prints_who_corrected_the_step_and_when(people: Personas) -> None:
    step, _ = corrected_step(people)
    snapshot = take_snapshot(step.batch, kind="on_request", revision=1)
    assert snapshot.schema == SCHEMA_VERSION >= 3
    section = snapshot.steps[0]
    assert section.performed_by == "Operator (operator)"
    assert section.corrected_by == "Olga (operator2)"
    pdf, _ = render(snapshot)
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert "Corrected by" in text
    assert "Olga (operator2)" in text


@pytest.mark.urs("URS-208")
def test_a_record_of_the_earlier_schema_prints_as_it_did(people: Personas) -> None:
    step, _ = corrected_step(people)
    stored = take_snapshot(step.batch, kind="on_request", revision=1).to_dict()
    for section in stored["steps"]:
        del section["corrected_by"], section["corrected_at"]
    stored["schema"] = 2
    pdf, _ = render(Snapshot.from_dict(stored))
    whole = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    record, _, appendix = whole.partition("Appendix A. Audit trail")
    # The step prints no corrector line; the audit appendix still shows the audited change of the row.
    assert "Corrected by" in appendix
    assert "Corrected by" not in record

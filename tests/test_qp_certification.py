"""QP certification before release for administration; conditional release with the medical director and the
treating physician; initial then final certification; the trial and PSF on the record; reportability.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.models import BatchDisposition, BatchDocument, ElectronicSignature, ReleaseFollowUp
from batches.pdf.collect import take_snapshot
from batches.release import conditional
from batches.release import disposition as release
from batches.release.documents import document_request
from config.settings import CELERY_BEAT_SCHEDULE
from qc.models import Deviation, ReportabilityAssessment
from qc.services import reportability
from qc.services.testing import qc_result_review
from qc.tasks import deliver_notification, remind_reportability
from tests.factories import (
    PASSWORD,
    Personas,
    approved_definition,
    quarantined_batch,
    record_passing_qc,
    record_result,
)
from tests.helpers import assert_nothing_written, gmp_row_counts, staff_client_for

pytestmark = pytest.mark.django_db
PLAN = "Positive culture: inform the treating physician at once, identify the organism, antibiotics per protocol."


def _conditionally_decided(people: Personas):
    batch = quarantined_batch(people)
    record_passing_qc(people, batch)  # sterility pending
    decided = release.batch_release_conditionally(
        actor=people.qa, batch_id=batch.pk, password=PASSWORD, positive_result_plan=PLAN
    )
    return batch, decided


@pytest.mark.urs("URS-370")
def test_no_release_for_administration_and_no_record_saying_released_before_qp_certification(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    batch.refresh_from_db()
    assert batch.status == "awaiting_certification"
    assert batch.get_status_display() == "QA decided, awaiting QP certification"
    assert not BatchDocument.objects.filter(batch=batch).exists()  # no release record on QA's decision alone
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match="release record"):
        document_request(batch=batch, kind="release_record", actor=people.qa, reason="early")
    assert_nothing_written(before)
    snapshot = take_snapshot(batch, kind="on_request", revision=1)
    # Nothing says the batch is released; a material lot's status when it was used may.
    assert "Released" not in str(dataclasses.asdict(snapshot)).replace("Status at use: Released", "")
    assert snapshot.cover.batch_status == "QA decided, awaiting QP certification"

    release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    batch.refresh_from_db()
    assert batch.status == "released"
    assert BatchDocument.objects.filter(batch=batch, kind="release_record").count() == 1


@pytest.mark.urs("URS-366")
def test_conditional_release_needs_the_medical_director_and_the_treating_physician(people: Personas) -> None:
    batch, decided = _conditionally_decided(people)
    assert ReleaseFollowUp.objects.get(batch=batch).pending_tests == ["sterility"]
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"lacks the medical director's signature .* and the treating physician"):
        release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(PermissionDenied, match="requires the role Medical director"):
        conditional.conditional_release_authorise(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)
    conditional.conditional_release_acknowledge(actor=people.clinician, batch_id=batch.pk, password=PASSWORD)
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"lacks the medical director's signature \(authorised\)\.\W*$"):
        release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)
    conditional.conditional_release_authorise(actor=people.medical_director, batch_id=batch.pk, password=PASSWORD)
    on_decision = ElectronicSignature.objects.filter(
        object_id=decided.pk, batch=batch, content_type=ContentType.objects.get_for_model(BatchDisposition)
    )
    meanings = set(on_decision.values_list("meaning", "signer"))
    assert meanings == {
        ("conditionally_released", people.qa.pk),
        ("authorised", people.medical_director.pk),
        ("acknowledged", people.clinician.pk),
    }
    with pytest.raises(StateConflict, match="already authorised"):
        conditional.conditional_release_authorise(actor=people.medical_director, batch_id=batch.pk, password=PASSWORD)


@pytest.mark.urs("URS-371")
@pytest.mark.urs("URS-367")
def test_conditional_release_leads_to_an_initial_certification_listing_pending_tests_then_a_final_one(
    people: Personas,
) -> None:
    batch, decided = _conditionally_decided(people)
    conditional.conditional_release_authorise(actor=people.medical_director, batch_id=batch.pk, password=PASSWORD)
    conditional.conditional_release_acknowledge(actor=people.clinician, batch_id=batch.pk, password=PASSWORD)
    initial = release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    batch.refresh_from_db()
    assert (initial.decision, initial.pending_tests, batch.status) == (
        "certified_initial",
        ["sterility"],
        "conditionally_released",
    )
    assert initial.gate["qa_decision"] == decided.gate  # the same gate content QA saw
    signed = ElectronicSignature.objects.on(initial).get(meaning="certified").content
    assert '"pending_tests":["sterility"]' in signed
    assert "2025-500123-41-00" in signed  # the trial certified against

    # The follow-up is open and shown on the home pages of QA and the physician.
    client = Client()
    for user in (people.qa, people.clinician, people.medical_director):
        client.force_login(user)
        home = client.get(reverse("admin:index")).content.decode()
        assert reverse("admin:batches_conditional_index") in home
    listing = client.get(reverse("admin:batches_conditional_index")).content.decode()
    assert batch.batch_number in listing
    assert "<td>Sterility</td>" in listing  # the pending test by its name, not its stored code
    spanish = client.get(reverse("admin:batches_conditional_index"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<td>Esterilidad</td>" in spanish
    form = client.get(reverse("admin:batches_conditional_batch", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE="es")
    assert "Resultados pendientes: Esterilidad; seguimiento " in form.content.decode()
    options = re.findall(r"<option [^>]*>(.*?)</option>", form.content.decode())
    assert options == ["Elija…", "Autorizar la liberación condicional (director médico)"]  # the medical director's

    before = gmp_row_counts()
    with pytest.raises(StateConflict, match="QA has not closed the follow-up"):
        conditional.batch_certify_final(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(StateConflict, match="no reviewed result yet for sterility"):
        conditional.followup_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="All fine.")
    assert_nothing_written(before)
    record_result(people, batch, "sterility", "no growth", sample=batch.qc_samples.first())
    followup = conditional.followup_close(
        actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="14-day culture: no growth; nothing to do."
    )
    assert followup.status == "closed"
    final = conditional.batch_certify_final(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    batch.refresh_from_db()
    assert (final.decision, final.pending_tests, batch.status) == ("certified", [], "released")
    assert list(BatchDisposition.objects.filter(batch=batch).values_list("decision", flat=True)) == [
        "conditionally_released",
        "certified_initial",
        "certified",
    ]
    client.force_login(people.qa)
    assert batch.batch_number not in client.get(reverse("admin:batches_conditional_index")).content.decode()


@pytest.mark.urs("URS-372")
def test_the_record_prints_the_trial_and_psf_and_certification_needs_them(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    certification = release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    assert (certification.references or {})["psf"] == "PSF-IGX1 version 4.0"
    snapshot = take_snapshot(batch, kind="release_record", revision=1)
    rows = {row.label: row.value for row in snapshot.process}
    assert rows["Clinical trial"].startswith("EU CT 2025-500123-41-00; protocol IGX1-AS-01 v3.0")
    assert "Fundación IGX" in rows["Clinical trial"]
    assert "Hospital Universitario La Paz, Madrid, Spain" in rows["Investigational sites"]
    assert rows["Product specification file"] == "PSF-IGX1 version 4.0"
    certified = next(e for e in snapshot.release if e.decision.startswith("Final certification"))
    assert "PSF-IGX1 version 4.0" in certified.conditions

    bare = approved_definition(people.qa, people.qp, clinical_trial=None, name="Without a trial")
    other = quarantined_batch(people, subject_code="IGX1-S002", definition=bare)
    record_passing_qc(people, other, skip=())
    release.batch_release(actor=people.qa, batch_id=other.pk, password=PASSWORD)
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match="names no clinical trial and product specification file"):
        release.batch_certify(actor=people.qp, batch_id=other.pk, password=PASSWORD)
    assert_nothing_written(before)


@pytest.mark.urs("URS-373")
def test_qc_results_are_reviewed_by_someone_independent_of_production(people: Personas) -> None:
    batch = quarantined_batch(people)
    result = record_result(people, batch, "endotoxin", "0.2", "EU/mL", review=False)
    before = gmp_row_counts()
    with pytest.raises(PermissionDenied, match="independent of production"):
        qc_result_review(reviewer=people.verifier, result_id=result.pk, password=PASSWORD)  # verified the steps
    assert_nothing_written(before)
    assert qc_result_review(reviewer=people.qc_reviewer, result_id=result.pk, password=PASSWORD).is_verified


def _late_positive(people: Personas, capture: Any) -> Deviation:
    people.qa.email = "qa@facility.example"
    people.qa.save()
    batch, _ = _conditionally_decided(people)
    conditional.conditional_release_authorise(actor=people.medical_director, batch_id=batch.pk, password=PASSWORD)
    conditional.conditional_release_acknowledge(actor=people.clinician, batch_id=batch.pk, password=PASSWORD)
    release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    with capture(execute=False):
        result = record_result(people, batch, "sterility", "growth", sample=batch.qc_samples.first())
    return Deviation.objects.get(source_result=result)


@pytest.mark.urs("URS-368")
def test_a_late_positive_opens_a_reportability_assessment_tracked_to_its_submission(
    people: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    deviation = _late_positive(people, django_capture_on_commit_callbacks)
    assessment = ReportabilityAssessment.objects.get(deviation=deviation)
    assert deviation.classification == "critical"
    assert (assessment.status, assessment.due_date) == ("open", timezone.localdate() + timedelta(days=15))
    page = reverse("admin:qc_reportabilityassessment_change", args=[assessment.pk])
    assess, submit = (
        f'href="{reverse(f"admin:qc_reportabilityassessment_{action}", args=[assessment.pk])}"'
        for action in ("assess", "submit")
    )

    def offered(user: Any) -> tuple[bool, bool]:
        content = staff_client_for(user).get(page).content.decode()
        return assess in content, submit in content

    # Each step is offered to QA when it is open, and to nobody else.
    assert (offered(people.qa), offered(people.auditor)) == ((True, False), (False, False))
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as refused:
        reportability.reportability_assess(
            actor=people.qa, assessment_id=assessment.pk, reportable=True, rule="", rationale=""
        )
    assert set(refused.value.message_dict) == {"rule", "rationale"}
    with pytest.raises(StateConflict, match="awaiting submission"):
        reportability.reportability_submit(
            actor=people.qa, assessment_id=assessment.pk, submitted_at=timezone.now(), reference="X"
        )
    assert_nothing_written(before)
    reportability.reportability_assess(
        actor=people.qa,
        assessment_id=assessment.pk,
        reportable=True,
        rule="Regulation (EU) 536/2014 art. 42 (SUSAR)",
        rationale="Bacterial growth in an administered product: serious, unexpected.",
        due_date=timezone.localdate() + timedelta(days=7),
    )
    assert (offered(people.qa), offered(people.auditor)) == ((False, True), (False, False))
    done = reportability.reportability_submit(
        actor=people.qa, assessment_id=assessment.pk, submitted_at=timezone.now(), reference="EV-SUSAR-2026-0042"
    )
    assert (done.status, done.reportable, done.submission_reference) == ("done", True, "EV-SUSAR-2026-0042")
    assert offered(people.qa) == (False, False)


@pytest.mark.urs("URS-369")
def test_reminders_are_emailed_before_the_due_date_once_a_day_by_the_beat_task(
    people: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    assert CELERY_BEAT_SCHEDULE["qc-remind-reportability"]["task"] == remind_reportability.name
    deviation = _late_positive(people, django_capture_on_commit_callbacks)
    assessment = ReportabilityAssessment.objects.get(deviation=deviation)
    with django_capture_on_commit_callbacks(execute=False):
        assert remind_reportability.apply().get() == 0  # due in 15 days: not yet
    reportability.reportability_assess(
        actor=people.qa,
        assessment_id=assessment.pk,
        reportable=True,
        rule="Regulation (EU) 536/2014 art. 42 (SUSAR)",
        rationale="Serious and unexpected.",
        due_date=timezone.localdate() + timedelta(days=2),
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False):
        sent = reportability.reportability_reminders_send()
        assert reportability.reportability_reminders_send() == []  # once a day
    assert len(sent) == 1
    deliver_notification.apply(args=(sent[0],))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith(f"Reminder: reportability of {deviation.number}")
    assert "due in 2 day(s)" in mail.outbox[0].subject
    assert "qa@facility.example" in mail.outbox[0].to


@pytest.mark.urs("URS-372")
def test_qa_records_a_trial_in_the_admin_and_a_draft_definition_names_it(people: Personas) -> None:
    client = Client()
    client.force_login(people.operator)
    assert client.get(reverse("admin:batches_clinicaltrial_add")).status_code == 403
    client.force_login(people.qa)
    values = {
        "eu_ct_number": "2026-500777-12-00",
        "protocol": "IGX1-AS-02 v1.0",
        "sponsor": "Fundación IGX",
        "sites": "Hospital Universitario La Paz, Madrid, Spain",
        "psf_reference": "PSF-IGX1 version 5.0",
    }
    assert client.post(reverse("admin:batches_clinicaltrial_add"), values).status_code == 302
    listing = client.get(reverse("admin:batches_clinicaltrial_changelist")).content.decode()
    assert "2026-500777-12-00" in listing
    draft = client.get(reverse("admin:batches_processdefinition_add")).content.decode()
    assert 'name="clinical_trial"' in draft
    assert "EU CT 2026-500777-12-00" in draft


@pytest.mark.urs("URS-367")
def test_an_infused_batch_is_not_closed_while_its_follow_up_is_open(people: Personas) -> None:
    from batches.release import delivery
    from qc import demo as qc_demo
    from tests.factories import crew, make_user

    batch, _ = _conditionally_decided(people)
    conditional.conditional_release_authorise(actor=people.medical_director, batch_id=batch.pk, password=PASSWORD)
    conditional.conditional_release_acknowledge(actor=people.clinician, batch_id=batch.pk, password=PASSWORD)
    release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    team = dataclasses.replace(crew(people), second_clinician=make_user("clinician_b", "clinician"))
    batch = qc_demo.infuse_batch(team, qc_demo.dispatch_batch(team, batch))
    assert batch.status == "infused"
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"follow-up of its conditional release is open \(pending: sterility\)"):
        delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)
    record_result(people, batch, "sterility", "no growth", sample=batch.qc_samples.first())
    conditional.followup_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="No growth at 14 days.")
    with pytest.raises(StateConflict, match="before the QP's final certification"):
        delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    conditional.batch_certify_final(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    closed = delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert closed.status == "closed"

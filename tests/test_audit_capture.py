"""Every write path lands in the audit trail with its actor, time, action, old → new values and reason."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pghistory
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from batches.audit import APP_ROLE, audit_context
from batches.dbrole import owner_session
from batches.management.base import AuditedCommand
from batches.middleware import AuditMiddleware
from batches.models import Patient
from batches.services import steps
from tests.audit_helpers import as_another_role, events_for, last_event
from tests.factories import PASSWORD, Personas, enrolled_patient, gcsf_values, scans, walk_batch
from tests.workers import running_worker


@pytest.mark.django_db
@pytest.mark.urs("URS-020")
def test_a_service_call_records_actor_reason_and_old_and_new_values(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    steps.step_correct(
        kind="gcsf",
        step_id=step.pk,
        actor=people.operator,
        password=PASSWORD,
        values={"drug_lot": "FIL-24-118"},
        reason="lot number mistyped",
    )
    created, corrected = events_for(step)
    assert (created.action, created.actor, created.reason) == ("insert", "operator", "record g-csf administration")
    assert created.diff["drug_lot"] == (None, "FIL-24-117")
    assert (corrected.action, corrected.actor, corrected.reason) == ("update", "operator", "lot number mistyped")
    # The changed value, and who changed it (the row names its corrector; performed_by is unchanged).
    assert corrected.diff.keys() == {"drug_lot", "corrected_by_id", "corrected_at"}
    assert corrected.diff["drug_lot"] == ("FIL-24-117", "FIL-24-118")
    assert corrected.diff["corrected_by_id"] == (None, str(people.operator.pk))
    assert corrected.at.utcoffset().total_seconds() == 0  # server time, UTC


class ReweighCommand(AuditedCommand):
    """Stands for any CellBatch command that changes GMP data."""

    audit_name = "reweigh_patients"
    audit_reason = "scale recalibrated"

    def handle(self, *args: Any, **options: Any) -> None:
        Patient.objects.update(body_weight_kg=Decimal("63.0"))


@pytest.mark.django_db
@pytest.mark.urs("URS-020", "URS-021")
def test_a_management_command_is_the_actor_of_its_writes(people: Personas) -> None:
    patient = enrolled_patient(people.operator)
    call_command(ReweighCommand())
    event = last_event(patient)
    assert (event.action, event.actor, event.reason) == ("update", "system:reweigh_patients", "scale recalibrated")
    assert event.diff == {"body_weight_kg": ("62.5", "63.0")}


@pytest.mark.django_db
@pytest.mark.urs("URS-020")
def test_a_queryset_update_is_captured_with_old_and_new_values(people: Personas) -> None:
    patient = enrolled_patient(people.operator)
    with audit_context(people.operator, reason="eligibility withdrawn by the investigator"):
        Patient.objects.filter(pk=patient.pk).update(eligibility_confirmed=False)
    event = last_event(patient)
    assert (event.actor, event.reason) == ("operator", "eligibility withdrawn by the investigator")
    assert event.diff == {"eligibility_confirmed": ("true", "false")}


@pytest.mark.django_db
@pytest.mark.urs("URS-020")
def test_raw_sql_inside_the_application_is_captured_with_its_context(people: Personas) -> None:
    patient = enrolled_patient(people.operator)
    with audit_context(people.operator, reason="consent date corrected from the signed form"), connection.cursor() as c:
        c.execute("UPDATE batches_patient SET consent_date = consent_date - 1 WHERE id = %s", [patient.pk])
    event = last_event(patient)
    assert (event.action, event.actor, event.db_role) == ("update", "operator", APP_ROLE)
    assert list(event.diff) == ["consent_date"]


@pytest.mark.django_db
@pytest.mark.urs("URS-020", "URS-021")
def test_a_write_from_another_database_role_names_that_role(people: Personas) -> None:
    as_another_role("CREATE ROLE cellbatch_test_dba")
    as_another_role("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO cellbatch_test_dba")
    as_another_role("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO cellbatch_test_dba")
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("SET ROLE cellbatch_test_dba")
        cursor.execute(
            "INSERT INTO batches_patient (subject_code, consent_date, body_weight_kg, eligibility_confirmed, "
            "enrolled_by_id, enrolled_at) VALUES ('IGX1-S099', CURRENT_DATE, 70, false, %s, now())",
            [people.operator.pk],
        )
        cursor.execute("RESET ROLE")
    event = last_event(Patient.objects.get(subject_code="IGX1-S099"))
    assert (event.action, event.actor, event.db_role, event.reason) == (
        "insert",
        "db:cellbatch_test_dba",
        "cellbatch_test_dba",
        "",
    )


@pytest.mark.django_db
@pytest.mark.urs("URS-021")
def test_a_request_names_the_signed_in_user_or_anonymous(people: Personas) -> None:
    patient = enrolled_patient(people.operator)

    def reweigh(request: HttpRequest) -> HttpResponse:
        with pghistory.context(reason="weight updated at visit 2"):  # the view adds only the reason
            Patient.objects.filter(pk=patient.pk).update(body_weight_kg=Decimal("61.0"))
        return HttpResponse("ok")

    def enrol(request: HttpRequest) -> HttpResponse:
        Patient.objects.create(
            subject_code="IGX1-S003", consent_date=patient.consent_date, body_weight_kg=70, enrolled_by=people.operator
        )
        return HttpResponse("ok")

    request = RequestFactory().post("/anything/")
    request.user = people.clinician
    AuditMiddleware(reweigh)(request)
    assert last_event(patient).actor == "clinician"
    anonymous = RequestFactory().post("/anything/")
    anonymous.user = AnonymousUser()
    AuditMiddleware(enrol)(anonymous)
    assert last_event(Patient.objects.get(subject_code="IGX1-S003")).actor == "anonymous"


@pytest.mark.services
@pytest.mark.urs("URS-020", "URS-021")
def test_a_celery_task_on_a_real_worker_is_the_actor_of_its_writes(transactional_db: None) -> None:
    people = Personas()
    patient = enrolled_patient(people.operator)
    with running_worker(extra_env={"CELLBATCH_EXTRA_TASK_MODULES": "tests.audit_tasks"}) as worker:
        from config.celery import app

        app.send_task("tests.audit_reweigh_patient", args=[patient.pk, "64.5"])
        deadline = time.monotonic() + 30
        while Patient.objects.get(pk=patient.pk).body_weight_kg != Decimal("64.5"):
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.1)
    event = last_event(patient)
    assert (event.action, event.actor) == ("update", "system:tests.audit_reweigh_patient")
    assert event.reason == "weight re-measured by the scheduled import"
    assert event.diff == {"body_weight_kg": ("62.5", "64.5")}

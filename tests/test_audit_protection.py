"""Append-only audit: events and ledger refuse UPDATE, DELETE and TRUNCATE; changes need a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from batches.audit import audit_context
from batches.dbrole import owner_session
from batches.ledger.seal import ledger_seal
from batches.models import AuditCheckpoint, AuditSeal, Patient
from tests.audit_helpers import events_for, last_event
from tests.factories import Personas, enrolled_patient

pytestmark = pytest.mark.django_db

EVENT_TABLE = "batches_patientevent"


def refused(sql: str, params: list[object] | None = None) -> str:
    """Run ``sql`` expecting the database to refuse it; return its message."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses a table with pending FK checks
    with pytest.raises(DatabaseError) as caught:
        in_savepoint(sql, params)
    return str(caught.value)


def in_savepoint(sql: str, params: list[object] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


@pytest.fixture
def patient(people: Personas) -> Patient:
    return enrolled_patient(people.operator)


@pytest.mark.urs("URS-023")
@pytest.mark.parametrize(
    "sql",
    [f"UPDATE {EVENT_TABLE} SET pgh_actor = 'someone else'", f"DELETE FROM {EVENT_TABLE}"],
    ids=["update", "delete"],
)
def test_audit_events_cannot_be_updated_or_deleted(patient: Patient, sql: str) -> None:
    before = [(e.event, e.actor, e.diff) for e in events_for(patient)]
    assert "Cannot" in refused(sql)
    assert [(e.event, e.actor, e.diff) for e in events_for(patient)] == before


@pytest.mark.urs("URS-023")
@pytest.mark.parametrize("table", [EVENT_TABLE, "batches_patient", "batches_auditseal", "batches_auditcheckpoint"])
def test_audit_and_gmp_tables_cannot_be_truncated(patient: Patient, signing_pki: dict[str, str], table: str) -> None:
    ledger_seal()
    counts = (Patient.objects.count(), AuditSeal.objects.count(), AuditCheckpoint.objects.count())
    # The application role may not TRUNCATE at all; the owner (and a superuser) meets the trigger.
    assert f"permission denied for table {table}" in refused(f"TRUNCATE {table} CASCADE")
    with owner_session():
        assert f"Table {table} is append-only: TRUNCATE is refused" in refused(f"TRUNCATE {table} CASCADE")
    assert (Patient.objects.count(), AuditSeal.objects.count(), AuditCheckpoint.objects.count()) == counts


@pytest.mark.urs("URS-023")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE batches_auditseal SET hash = repeat('0', 64)",
        "DELETE FROM batches_auditseal",
        "UPDATE batches_auditcheckpoint SET event_count = 0",
        "DELETE FROM batches_auditcheckpoint",
    ],
)
def test_the_ledger_cannot_be_updated_or_deleted(patient: Patient, signing_pki: dict[str, str], sql: str) -> None:
    ledger_seal()
    before = list(AuditSeal.objects.values_list("sequence", "hash")), list(AuditCheckpoint.objects.values_list())
    assert "Cannot" in refused(sql)
    assert (list(AuditSeal.objects.values_list("sequence", "hash")), list(AuditCheckpoint.objects.values_list())) == (
        before
    )


@pytest.mark.urs("URS-022")
def test_a_change_without_a_reason_is_refused_and_nothing_is_written(patient: Patient, people: Personas) -> None:
    events = len(events_for(patient))
    with (
        pytest.raises(IntegrityError, match="A reason for change is required to update batches_patient row"),
        transaction.atomic(),
        audit_context(people.operator),
    ):
        Patient.objects.filter(pk=patient.pk).update(body_weight_kg=Decimal("80.0"))
    patient.refresh_from_db()
    assert patient.body_weight_kg == Decimal("62.5")
    assert len(events_for(patient)) == events


@pytest.mark.urs("URS-022")
def test_a_deletion_without_a_reason_is_refused(patient: Patient) -> None:
    assert "A reason for change is required to delete batches_patient row" in refused(
        "DELETE FROM batches_patient WHERE id = %s", [patient.pk]
    )
    assert Patient.objects.filter(pk=patient.pk).exists()


@pytest.mark.urs("URS-022")
def test_a_reason_given_outside_the_application_is_accepted_and_attributed_to_the_role(patient: Patient) -> None:
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pghistory.context_metadata', '{\"reason\": \"DBA fix, CR-118\"}', true)")
        cursor.execute("UPDATE batches_patient SET body_weight_kg = 62.0 WHERE id = %s", [patient.pk])
    event = last_event(patient)
    assert (event.actor, event.reason) == ("db:postgres", "DBA fix, CR-118")


@pytest.mark.urs("URS-022")
def test_a_nested_reason_does_not_leak_onto_later_writes(patient: Patient, people: Personas) -> None:
    with audit_context("system:import"):
        with audit_context(people.operator, reason="first correction"):
            Patient.objects.filter(pk=patient.pk).update(body_weight_kg=Decimal("63.0"))
        with pytest.raises(IntegrityError, match="reason for change is required"), transaction.atomic():
            Patient.objects.filter(pk=patient.pk).update(body_weight_kg=Decimal("64.0"))
    assert last_event(patient).reason == "first correction"

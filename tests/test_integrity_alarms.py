"""Integrity alarms: scheduled verification, findings per batch, e-mail to QA; the application role;
trigger disabling recorded; the record's checkpoint covers its batch."""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from pypdf import PdfReader

from batches.audit import APP_ROLE, audit_context
from batches.dbrole import owner_session
from batches.ledger.seal import ledger_seal
from batches.ledger.trail import batch_trail
from batches.models import AuditSeal, Batch, BatchTransition, DocumentKind, IntegrityFinding, SchemaChange
from batches.release import documents
from tests.audit_helpers import events_for, last_event, with_triggers_off
from tests.factories import Personas, enrolled_patient, walk_batch


@pytest.fixture
def sealed(people: Personas, signing_pki: dict[str, str]) -> Batch:
    batch = walk_batch(people, "quarantine")
    ledger_seal()
    return batch


def tamper(*statements: str) -> None:
    """A superuser switching a table's triggers off by DDL, writing, and switching them on again."""
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred check pending: DDL may run
        for statement in statements:
            cursor.execute(statement)


@pytest.mark.urs("URS-380", "URS-381", "URS-383")
def test_scheduled_full_verification_lists_every_broken_row_and_event_flags_the_batch_and_emails_qa(
    sealed: Batch, people: Personas, client: object
) -> None:
    from batches.tasks import audit_trail_verify

    people.qa.email = "qa@example.org"
    people.qa.save()
    other = walk_batch(people, "mobilization", subject_code="IGX1-S002")
    transitions = list(BatchTransition.objects.filter(batch=sealed).order_by("pk")[:2])
    seal = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("sequence").first()
    assert seal is not None
    tamper(
        "ALTER TABLE batches_batch DISABLE TRIGGER ALL",
        f"UPDATE batches_batch SET din = 'X999926000001' WHERE id = {sealed.pk}",
        "ALTER TABLE batches_batch ENABLE TRIGGER ALL",
        "ALTER TABLE batches_batchtransition DISABLE TRIGGER ALL",
        "UPDATE batches_batchtransition SET reason = 'rewritten' "
        f"WHERE id IN ({transitions[0].pk}, {transitions[1].pk})",
        "ALTER TABLE batches_batchtransition ENABLE TRIGGER ALL",
        "ALTER TABLE batches_batchevent DISABLE TRIGGER ALL",
        f"UPDATE batches_batchevent SET din = 'X999926000002' WHERE pgh_id = {seal.event_id}",
        "ALTER TABLE batches_batchevent ENABLE TRIGGER ALL",
    )
    mail.outbox.clear()

    result = audit_trail_verify(full=True)

    assert (result["ok"], result["mode"]) == (False, "full")
    problems = result["problems"]
    assert f"batches.Batch row {sealed.pk} differs from its last audited state (changed: din)." in problems
    for transition in transitions:  # every broken row, not only the first of its table
        assert (
            f"batches.BatchTransition row {transition.pk} differs from its last audited state (changed: reason)."
            in problems
        )
    assert (
        f"batches.BatchEvent event {seal.event_id} (ledger sequence {seal.sequence}) was changed after it was sealed."
        in problems
    )
    disabled = [p for p in problems if p.startswith("triggers switched off: ALTER TABLE public.batches_batch ")]
    assert len(disabled) == 1
    assert "by database role postgres" in disabled[0]
    assert result["batches"] == [sealed.pk]
    findings = IntegrityFinding.objects.filter(verification_id=result["run"])
    assert set(findings.filter(batch=sealed).values_list("table", flat=True)) == {
        "batches.Batch",
        "batches.BatchTransition",
        "batches.BatchEvent",
    }
    assert not IntegrityFinding.objects.filter(batch=other).exists()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["qa@example.org"]
    assert message.subject.startswith("ALARM: audit trail verification failed")
    assert f"batches.Batch row {sealed.pk} differs" in message.body
    assert sealed.batch_number in message.body
    assert f"batches.BatchEvent event {seal.event_id}" in message.body

    client.force_login(people.qa)  # type: ignore[attr-defined]
    detail = client.get(f"/api/v1/batches/{sealed.pk}/").json()  # type: ignore[attr-defined]
    assert {f["table"] for f in detail["integrity_findings"]} == {
        "batches.Batch",
        "batches.BatchTransition",
        "batches.BatchEvent",
    }
    assert client.get(f"/api/v1/batches/{other.pk}/").json()["integrity_findings"] == []  # type: ignore[attr-defined]
    page = client.get(f"/admin/batches/batch/{sealed.pk}/change/").content.decode()  # type: ignore[attr-defined]
    assert "Integrity alarm" in page
    assert f"batches.Batch row {sealed.pk} differs" in page
    assert "Integrity alarm" not in client.get(f"/admin/batches/batch/{other.pk}/change/").content.decode()  # type: ignore[attr-defined]

    # The next run reports the rows again (still broken) but not the same trigger switch-off twice.
    again = audit_trail_verify(full=True)
    assert not any(p.startswith("triggers switched off") for p in again["problems"])
    assert f"batches.Batch row {sealed.pk} differs from its last audited state (changed: din)." in again["problems"]


@pytest.mark.urs("URS-380")
def test_an_intact_scheduled_run_sends_nothing_and_flags_nothing(sealed: Batch) -> None:
    from batches.tasks import audit_trail_verify

    mail.outbox.clear()
    assert audit_trail_verify(full=True)["ok"] is True
    assert audit_trail_verify()["ok"] is True
    assert mail.outbox == []
    assert not IntegrityFinding.objects.exists()


@pytest.mark.urs("URS-380")
def test_beat_runs_the_full_verification_daily_beside_the_incremental_one(settings: object) -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE  # type: ignore[attr-defined]
    assert schedule["audit-trail-verify-full"]["task"] == "batches.audit_trail_verify"
    assert schedule["audit-trail-verify-full"]["kwargs"] == {"full": True}
    assert schedule["audit-trail-verify-full"]["schedule"] == settings.CELLBATCH_AUDIT_VERIFY_FULL_SECONDS  # type: ignore[attr-defined]
    assert "kwargs" not in schedule["audit-trail-verify"]


@pytest.mark.urs("URS-384")
def test_an_actor_set_from_another_database_role_is_recorded_as_that_role(people: Personas) -> None:
    patient = enrolled_patient(people.operator)
    forged = json.dumps({"actor": "clinician", "user": people.clinician.pk, "reason": "weight corrected"})
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pghistory.context_metadata', %s, true)", [forged])
        cursor.execute("UPDATE batches_patient SET body_weight_kg = 64.0 WHERE id = %s", [patient.pk])
    event = last_event(patient)
    assert (event.actor, event.db_role, event.reason) == ("db:postgres", "postgres", "weight corrected")
    assert event.actor != "clinician"
    # The same context from the application's own role names the user.
    with audit_context(people.operator, reason="weight re-measured on the ward"):
        type(patient).objects.filter(pk=patient.pk).update(body_weight_kg=65)
    assert (last_event(patient).actor, last_event(patient).db_role) == ("operator", APP_ROLE)
    assert [e.actor for e in events_for(patient)] == ["operator", "db:postgres", "operator"]


@pytest.mark.urs("URS-385")
def test_the_suite_runs_as_the_application_role_which_cannot_switch_triggers_off(people: Personas) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (APP_ROLE, False)
    for statement, refusal in (
        ("SET session_replication_role = replica", "permission denied to set parameter"),
        ("ALTER TABLE batches_batch DISABLE TRIGGER ALL", "must be owner of table batches_batch"),
        ("TRUNCATE batches_patient", "permission denied for table batches_patient"),
    ):
        with pytest.raises(DatabaseError, match=refusal), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


@pytest.mark.urs("URS-386")
def test_ddl_on_a_gmp_table_is_recorded_with_its_role(people: Personas) -> None:
    before = SchemaChange.objects.count()
    tamper(
        "ALTER TABLE batches_patient ADD COLUMN shadow text",
        "ALTER TABLE batches_patient DROP COLUMN shadow",
        "ALTER TABLE batches_patient DISABLE TRIGGER USER",
        "ALTER TABLE batches_patient ENABLE TRIGGER USER",
    )
    changes = list(SchemaChange.objects.order_by("pk")[before:])
    assert [(c.command_tag, c.object_identity, c.db_role, c.disables_trigger) for c in changes] == [
        ("ALTER TABLE", "public.batches_patient", "postgres", False),
        ("ALTER TABLE", "public.batches_patient.shadow", "postgres", False),  # the dropped column
        ("ALTER TABLE", "public.batches_patient", "postgres", False),
        ("ALTER TABLE", "public.batches_patient", "postgres", True),
        ("ALTER TABLE", "public.batches_patient", "postgres", False),
    ]
    assert changes[3].statement == "ALTER TABLE batches_patient DISABLE TRIGGER USER"
    with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
        SchemaChange.objects.filter(pk=changes[3].pk).update(statement="nothing happened")


@pytest.mark.urs("URS-387")
def test_the_checkpoint_printed_on_a_record_covers_the_last_event_of_its_batch(
    people: Personas, signing_pki: dict[str, str], settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    assert documents.document_build(document_id=document.pk) == "signed"
    document.refresh_from_db()
    pdf = default_storage.open(document.storage_path).read()
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    printed = re.search(r"Audit checkpoint current at issue\s*sequence (\d+)", text)
    assert printed, "no checkpoint printed"
    # Every event of the batch's records (the document's own "signed" update comes after the build).
    keys = [entry.event.rsplit(":", 1) for entry in batch_trail(batch, excluding=frozenset({"batches.BatchDocument"}))]
    sequences = [
        AuditSeal.objects.get(event_model=label, event_id=int(pk)).sequence
        for label, pk in keys
        if AuditSeal.objects.filter(event_model=label, event_id=int(pk)).exists()
    ]
    assert len(sequences) == len(keys), "every event of the batch up to the build is sealed"
    assert max(sequences) <= int(printed.group(1))


@pytest.mark.django_db(transaction=True)
@pytest.mark.urs("URS-383")
def test_a_full_run_outside_any_transaction_checks_events_and_rows_on_a_second_connection(
    people: Personas, signing_pki: dict[str, str]
) -> None:
    from batches.ledger.verify import verify_audit_trail

    batch = walk_batch(people, "collection")
    ledger_seal()
    intact = verify_audit_trail()
    assert intact.ok, intact.problems
    assert intact.rows > 0
    assert intact.sealed == AuditSeal.objects.count()
    seal = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("sequence").last()
    assert seal is not None
    assert seal.event_xmin is not None
    with_triggers_off(f"UPDATE batches_batchevent SET din = 'X' WHERE pgh_id = {seal.event_id}")
    with_triggers_off(f"UPDATE batches_batch SET din = 'Y' WHERE id = {batch.pk}")
    report = verify_audit_trail()
    assert report.problems == [
        f"batches.BatchEvent event {seal.event_id} (ledger sequence {seal.sequence}) was changed after it was sealed.",
        f"batches.Batch row {batch.pk} differs from its last audited state (changed: din).",
    ]
    assert report.batch_ids == [batch.pk]

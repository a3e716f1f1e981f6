"""What each signature binds on a record filled in by several people's acts (dispatch then receipt, first
bedside scan then confirmation): later legitimate acts leave earlier signatures intact, a change to the
fields a signature bound breaks it."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import connection, models
from django.test import Client

from batches.audit import audit_context
from batches.models import Batch, BedsideCheck, CustodyEvent, ElectronicSignature
from batches.release import delivery
from batches.signature_checks import SignatureState, declared_fields, signature_check, signature_states
from qc.gate import release_gate
from tests.custody_helpers import checked_batch, infusion_values
from tests.factories import PASSWORD, Personas, make_user

pytestmark = pytest.mark.django_db

SIGNATURE_FINDINGS = {"signature_broken", "signature_invalidated"}


def infused_batch(people: Personas) -> Batch:
    """Dispatched, received (two scans), checked at the bedside by two clinicians, infused."""
    batch = checked_batch(people, make_user("clinician_b", "clinician"))
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    batch.refresh_from_db()
    return batch


def signature_on(batch: Batch, model: type[models.Model], meaning: str) -> ElectronicSignature:
    return ElectronicSignature.objects.get(batch=batch, content_type__model=model._meta.model_name, meaning=meaning)


@pytest.mark.urs("URS-225")
def test_every_signature_of_a_dispatched_received_checked_and_infused_batch_is_intact(
    people: Personas, client: Client
) -> None:
    batch = infused_batch(people)
    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    check = BedsideCheck.objects.get(batch=batch)
    assert event.received_at is not None  # the receipt was filled in after dispatch
    assert event.scanned_identifier
    assert check.confirmed_by_id is not None
    assert check.confirmation_patient_subject_code == "IGX1-S001"

    states = signature_states(batch)
    signed = {(c.signature.content_type.model, c.signature.meaning) for c in states}
    assert {
        ("custodyevent", "performed"),
        ("bedsidecheck", "performed"),
        ("bedsidecheck", "verified"),
        ("infusion", "performed"),
    } <= signed
    assert [(c.signature.pk, c.detail) for c in states if c.state != SignatureState.VALID] == []
    assert not [f for f in release_gate(batch).findings if f.code in SIGNATURE_FINDINGS]

    client.force_login(people.qa)
    page = client.get(f"/admin/qa-review/{batch.pk}/")
    assert page.status_code == 200
    assert "no longer matches the record" not in page.content.decode()


@pytest.mark.urs("URS-225")
def test_each_signature_binds_the_fields_its_signer_attested(people: Personas) -> None:
    batch = infused_batch(people)
    dispatch = signature_on(batch, CustodyEvent, "performed")
    first, confirmation = (signature_on(batch, BedsideCheck, m) for m in ("performed", "verified"))

    def bound(signature: ElectronicSignature) -> set[str]:
        return set(json.loads(signature.content)["fields"])

    assert bound(dispatch) == declared_fields(CustodyEvent, "performed")
    assert "temperature_at_handover_c" in bound(dispatch)
    assert not bound(dispatch) & {"received_by_id", "received_at", "temperature_at_receipt_c", "held", "hold_reason"}
    assert bound(first) == {"batch_id", "patient_subject_code", "scanned_data", "checked_by_id", "checked_at"}
    assert bound(confirmation) == bound(first) | {
        "confirmation_scanned_data",
        "confirmation_patient_subject_code",
        "confirmed_by_id",
        "confirmed_at",
    }


@pytest.mark.urs("URS-225")
@pytest.mark.parametrize(
    ("table", "column", "value", "broken"),
    [
        ("batches_custodyevent", "temperature_at_handover_c", 9.5, {("custodyevent", "performed")}),
        ("batches_custodyevent", "to_location", "'Somewhere else'", {("custodyevent", "performed")}),
        (
            "batches_bedsidecheck",
            "patient_subject_code",
            "'IGX1-S999'",
            {("bedsidecheck", "performed"), ("bedsidecheck", "verified")},
        ),
        ("batches_bedsidecheck", "confirmation_scanned_data", "'other bag'", {("bedsidecheck", "verified")}),
    ],
)
def test_a_change_to_a_signed_field_behind_the_services_back_breaks_its_signature(
    people: Personas, table: str, column: str, value: object, broken: set[tuple[str, str]]
) -> None:
    batch = infused_batch(people)

    # Raw SQL, triggers on, with a reason (the database insists on one) but outside every service.
    with audit_context("system:db-shell", reason="manual fix"), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = {value} WHERE batch_id = %s", [batch.pk])

    invalid = {
        (c.signature.content_type.model, c.signature.meaning): c.detail
        for c in signature_states(batch)
        if c.state != SignatureState.VALID
    }
    assert invalid == dict.fromkeys(broken, "the record was changed after signing")
    findings = [f for f in release_gate(batch).findings if f.code == "signature_broken"]
    assert len(findings) == len(broken)
    assert all(f.blocking for f in findings)
    assert all("no longer matches the record" in f.message for f in findings)


@pytest.mark.urs("URS-225")
def test_a_signature_made_before_the_declaration_is_checked_on_the_fields_its_meaning_binds(people: Personas) -> None:
    batch = infused_batch(people)
    dispatch = signature_on(batch, CustodyEvent, "performed")
    # As signed before the declaration: the whole row, the hold flag (then False) included.
    document = json.loads(dispatch.content)
    document["fields"]["held"] = False
    legacy = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    with audit_context(people.qa, reason="test: a signature made before the declaration"):
        ElectronicSignature.objects.filter(pk=dispatch.pk).update(
            content=legacy, content_sha256=hashlib.sha256(legacy.encode()).hexdigest()
        )
    dispatch.refresh_from_db()
    assert signature_check(dispatch).state == SignatureState.VALID

    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    with audit_context("system:db-shell", reason="manual fix"), connection.cursor() as cursor:
        cursor.execute("UPDATE batches_custodyevent SET held = true WHERE id = %s", [event.pk])
    assert signature_check(dispatch).state == SignatureState.VALID  # the receipt's field, not the hand-over's
    with audit_context("system:db-shell", reason="manual fix"), connection.cursor() as cursor:
        cursor.execute("UPDATE batches_custodyevent SET to_location = 'Elsewhere' WHERE id = %s", [event.pk])
    assert signature_check(dispatch).detail == "the record was changed after signing"

"""Incremental verification: only what is new since the last intact run is read, and it is checked."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from batches.ledger.seal import ledger_seal
from batches.ledger.verify import verify_audit_trail
from batches.models import AuditSeal, AuditVerification, Batch, VerificationMode
from tests.audit_helpers import with_triggers_off
from tests.factories import Personas, walk_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def verified(people: Personas, signing_pki: dict[str, str]) -> Batch:
    """A sealed batch, and a full verification that found it intact."""
    batch = walk_batch(people, "mobilization", subject_code="IGX1-S001")
    ledger_seal()
    assert verify_audit_trail().ok
    return batch


def new_events(people: Personas) -> tuple[Batch, int]:
    """A second batch walked and sealed after the verification; returns it and the seals it added."""
    before = AuditSeal.objects.count()
    batch = walk_batch(people, "mobilization", subject_code="IGX1-S002")
    ledger_seal()
    return batch, AuditSeal.objects.count() - before


def event_table_of(model: Any) -> str:
    return model.pgh_event_model._meta.db_table


@pytest.mark.urs("URS-222")
def test_an_incremental_run_after_new_events_reads_only_the_new_ones_and_is_stored(
    verified: Batch, people: Personas
) -> None:
    full = AuditVerification.objects.get()
    assert (full.mode, full.ok, full.from_sequence) == (VerificationMode.FULL, True, 1)
    _, added = new_events(people)
    assert added > 0

    report = verify_audit_trail(incremental=True)
    assert report.ok, report.problems
    assert report.mode == VerificationMode.INCREMENTAL
    assert report.seals_checked == added
    assert report.from_sequence == full.head_sequence + 1
    assert report.sealed == full.head_sequence + added
    # Rows reconciled: only those with new events (the second batch's), not every GMP row.
    every_row = verify_audit_trail(record=False).rows
    assert 0 < report.rows < every_row - full.rows_checked // 2
    run = AuditVerification.objects.latest()
    assert (run.mode, run.ok, run.seals_checked, run.head_sequence) == ("incremental", True, added, report.sealed)

    again = verify_audit_trail(incremental=True)
    assert (again.ok, again.seals_checked, again.rows) == (True, 0, 0)  # nothing new: nothing read


@pytest.mark.urs("URS-222")
def test_a_tampered_new_event_or_row_is_caught_incrementally(verified: Batch, people: Personas) -> None:
    new_events(people)
    seal = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("-sequence").first()
    assert seal is not None
    with_triggers_off(f"UPDATE {event_table_of(Batch)} SET status = 'quarantine' WHERE pgh_id = %s", [seal.event_id])
    report = verify_audit_trail(incremental=True)
    assert not report.ok
    assert f"batches.BatchEvent event {seal.event_id} (ledger sequence {seal.sequence}) was changed" in str(
        report.problems
    )
    assert AuditVerification.objects.latest().ok is False


@pytest.mark.urs("URS-222")
def test_a_gmp_row_with_new_events_changed_with_triggers_off_is_caught_incrementally(
    verified: Batch, people: Personas
) -> None:
    batch, _ = new_events(people)
    with_triggers_off("UPDATE batches_batch SET din = 'G123417654321' WHERE id = %s", [batch.pk])
    report = verify_audit_trail(incremental=True)
    assert f"batches.Batch row {batch.pk} differs from its last audited state (changed: din)." in report.problems


@pytest.mark.urs("URS-222")
def test_a_tampered_old_row_is_left_to_the_full_run_which_catches_it(verified: Batch, people: Personas) -> None:
    new_events(people)
    assert verify_audit_trail(incremental=True).ok
    with_triggers_off("UPDATE batches_batch SET din = 'G123417654321' WHERE id = %s", [verified.pk])
    assert verify_audit_trail(incremental=True).ok  # the old row has no new event: not read
    full = verify_audit_trail()
    assert f"batches.Batch row {verified.pk} differs from its last audited state (changed: din)." in full.problems


@pytest.mark.urs("URS-222")
def test_a_rewritten_verified_head_fails_the_incremental_run(verified: Batch, people: Personas) -> None:
    head = AuditVerification.objects.latest().head_sequence
    with_triggers_off(f"UPDATE {AuditSeal._meta.db_table} SET hash = repeat('0', 64) WHERE sequence = %s", [head])
    report = verify_audit_trail(incremental=True)
    assert any(p.startswith(f"ledger sequence {head}: differs") for p in report.problems)


@pytest.mark.urs("URS-222")
def test_beat_runs_the_incremental_verification(verified: Batch) -> None:
    from batches.tasks import audit_trail_verify

    entry = settings.CELERY_BEAT_SCHEDULE["audit-trail-verify"]  # type: ignore[attr-defined]
    assert entry["task"] == audit_trail_verify.name
    result = audit_trail_verify()
    assert (result["ok"], result["mode"], result["checked"]) == (True, "incremental", 0)
    assert AuditVerification.objects.latest().mode == VerificationMode.INCREMENTAL

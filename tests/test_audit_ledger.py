"""The hash-chained ledger and verify_audit_trail: untouched data passes, each kind of tampering is named."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command

from batches.ledger.seal import ledger_seal
from batches.models import AuditCheckpoint, AuditSeal, Batch, BatchTransition
from batches.models.batch import BatchTransition as Transition
from tests.audit_helpers import verify, with_triggers_off
from tests.factories import Personas, walk_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(people: Personas, signing_pki: dict[str, str]) -> Batch:
    """A batch walked to collection, every event sealed and a checkpoint signed."""
    batch = walk_batch(people, "collection")
    ledger_seal()
    return batch


def event_table(model: type) -> str:
    return model._meta.get_field("events").related_model._meta.db_table


def last_seal() -> AuditSeal:
    return AuditSeal.objects.order_by("-sequence").first()


@pytest.mark.urs("URS-024")
def test_sealing_chains_every_event_in_a_gap_free_sequence_and_signs_the_head(sealed: Batch) -> None:
    sequences = list(AuditSeal.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    seals = list(AuditSeal.objects.order_by("sequence"))
    assert all(b.previous_hash == a.hash for a, b in itertools.pairwise(seals))
    checkpoint = AuditCheckpoint.objects.latest()
    assert (checkpoint.head_sequence, checkpoint.head_hash) == (seals[-1].sequence, seals[-1].hash)
    assert ledger_seal().sealed == 0  # idempotent: nothing new, no new checkpoint
    assert AuditCheckpoint.objects.count() == 1


@pytest.mark.urs("URS-025")
def test_verification_passes_on_untouched_data(sealed: Batch, people: Personas) -> None:
    Batch.objects.filter(pk=sealed.pk)  # events written after the seal only wait for the next one
    result = verify()
    assert result.code == 0, result.err
    assert "Audit trail intact" in result.out


@pytest.mark.urs("URS-026")
def test_an_edited_event_is_named(sealed: Batch) -> None:
    events = event_table(Batch)
    seal = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("sequence")[1]
    with_triggers_off(f"UPDATE {events} SET status = 'quarantine' WHERE pgh_id = %s", [seal.event_id])
    result = verify()
    assert result.code == 1
    assert f"batches.BatchEvent event {seal.event_id} (ledger sequence {seal.sequence}) was changed" in result.err


@pytest.mark.urs("URS-026")
def test_an_event_rewritten_with_the_same_content_passes_and_one_changed_beside_it_is_named(sealed: Batch) -> None:
    """A new row version with the same content (an UPDATE to the same values, a restore) has another xmin:
    it is compared in full and passes; only a change of content is a finding."""
    events = event_table(Batch)
    first, second = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("sequence")[:2]
    with_triggers_off(f"UPDATE {events} SET status = status WHERE pgh_id = %s", [first.event_id])
    result = verify()
    assert result.code == 0, result.err
    with_triggers_off(f"UPDATE {events} SET status = 'quarantine' WHERE pgh_id = %s", [second.event_id])
    result = verify()
    assert result.code == 1
    assert f"batches.BatchEvent event {second.event_id} (ledger sequence {second.sequence}) was changed" in result.err
    assert f"event {first.event_id} " not in result.err


@pytest.mark.urs("URS-027")
def test_a_deleted_event_is_named(sealed: Batch) -> None:
    seal = AuditSeal.objects.filter(event_model="batches.BatchTransitionEvent").order_by("sequence").first()
    with_triggers_off(f"DELETE FROM {event_table(Transition)} WHERE pgh_id = %s", [seal.event_id])
    result = verify()
    assert result.code == 1
    assert f"batches.BatchTransitionEvent event {seal.event_id} (ledger sequence {seal.sequence}) was deleted" in (
        result.err
    )


@pytest.mark.urs("URS-028")
def test_reordered_events_are_named(sealed: Batch) -> None:
    first, second = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("sequence")[:2]
    table = event_table(Batch)
    with_triggers_off(f"UPDATE {table} SET pgh_id = -1 WHERE pgh_id = %s", [first.event_id])
    with_triggers_off(f"UPDATE {table} SET pgh_id = %s WHERE pgh_id = %s", [first.event_id, second.event_id])
    with_triggers_off(f"UPDATE {table} SET pgh_id = %s WHERE pgh_id = -1", [second.event_id])
    result = verify()
    assert result.code == 1
    assert f"ledger sequence {first.sequence}) was changed" in result.err


@pytest.mark.urs("URS-028")
def test_reordered_seals_break_the_chain_at_the_first_moved_seal(sealed: Batch) -> None:
    table = AuditSeal._meta.db_table
    with_triggers_off(f"UPDATE {table} SET sequence = sequence + 1000000 WHERE sequence IN (3, 4)")
    with_triggers_off(
        f"UPDATE {table} SET sequence = CASE sequence WHEN 1000003 THEN 4 ELSE 3 END WHERE sequence > 1000000"
    )
    result = verify()
    assert result.code == 1
    assert "ledger sequence 3 " in result.err
    assert "does not link to the previous seal" in result.err


@pytest.mark.urs("URS-029")
def test_events_cut_from_the_tail_are_detected_through_the_signed_checkpoint(sealed: Batch) -> None:
    head = last_seal().sequence
    for seal in AuditSeal.objects.filter(sequence__gt=head - 3):
        table = event_table(next(m for m in _gmp_models() if _event_label(m) == seal.event_model))
        with_triggers_off(f"DELETE FROM {table} WHERE pgh_id = %s", [seal.event_id])
    with_triggers_off(f"DELETE FROM {AuditSeal._meta.db_table} WHERE sequence > %s", [head - 3])
    result = verify()
    assert result.code == 1
    assert f"covers {head} sealed events but the valid chain holds {head - 3}" in result.err
    assert f"sequence {head - 2} onwards was cut" in result.err


@pytest.mark.urs("URS-030")
def test_a_gmp_row_changed_with_triggers_off_is_named(sealed: Batch) -> None:
    with_triggers_off("UPDATE batches_batch SET din = 'G123417654321' WHERE id = %s", [sealed.pk])
    result = verify()
    assert result.code == 1
    assert f"batches.Batch row {sealed.pk} differs from its last audited state (changed: din)" in result.err


@pytest.mark.urs("URS-030")
def test_a_gmp_row_inserted_or_deleted_with_triggers_off_is_named(sealed: Batch) -> None:
    transition = BatchTransition.objects.filter(batch=sealed).last()
    with_triggers_off("DELETE FROM batches_batchtransition WHERE id = %s", [transition.pk])
    result = verify()
    assert result.code == 1
    assert f"batches.BatchTransition row {transition.pk} was deleted without an audit event" in result.err


@pytest.mark.urs("URS-036")
def test_an_altered_checkpoint_fails_its_signature(sealed: Batch) -> None:
    checkpoint = AuditCheckpoint.objects.latest()
    forged = bytes(checkpoint.statement).replace(b'"event_count":', b'"event_count":1')
    with_triggers_off("UPDATE batches_auditcheckpoint SET statement = %s WHERE id = %s", [forged, checkpoint.pk])
    result = verify()
    assert result.code == 1
    assert f"checkpoint #{checkpoint.pk}: its signature does not verify" in result.err


@pytest.mark.urs("URS-024")
def test_seal_command_output_via_beat_task_body(sealed: Batch, people: Personas) -> None:
    from batches.tasks import audit_ledger_seal

    walk_batch(people, "registered", subject_code="IGX1-S002")
    result = audit_ledger_seal.run()
    assert result["sealed"] > 0
    assert result["head_sequence"] == last_seal().sequence
    call_command("verify_audit_trail", "--no-progress")


def _gmp_models() -> list[type]:
    from batches.audit import GMP_MODELS

    return GMP_MODELS


def _event_label(model: type) -> str:
    return model._meta.get_field("events").related_model._meta.label


@pytest.mark.urs("URS-026")
def test_a_key_added_to_an_events_context_is_named(sealed: Batch) -> None:
    seal = AuditSeal.objects.filter(event_model="batches.BatchEvent").order_by("sequence").first()
    with_triggers_off(
        f'UPDATE {event_table(Batch)} SET pgh_context = pgh_context || \'{{"approved_by": "qa"}}\' WHERE pgh_id = %s',
        [seal.event_id],
    )
    result = verify()
    assert result.code == 1
    assert f"batches.BatchEvent event {seal.event_id} (ledger sequence {seal.sequence}) was changed" in result.err


@pytest.mark.urs("URS-024")
def test_the_beat_schedule_seals_periodically(settings: object) -> None:
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["audit-ledger-seal"]  # type: ignore[attr-defined]
    assert entry["task"] == "batches.audit_ledger_seal"
    assert entry["schedule"] > 0
    app.loader.import_default_modules()
    assert "batches.audit_ledger_seal" in app.tasks


@pytest.mark.urs("URS-036")
def test_removed_checkpoints_are_reported(sealed: Batch) -> None:
    with_triggers_off("DELETE FROM batches_auditcheckpoint")
    result = verify()
    assert result.code == 1
    assert f"no signed checkpoint although {last_seal().sequence} events are sealed" in result.err

"""Sealing while writers commit out of id order leaves a chain with every event and no gap."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from batches.audit import GMP_MODELS, audit_context, event_model
from batches.ledger.seal import ledger_seal
from batches.models import AuditSeal, Patient, SealProgress
from tests.audit_helpers import verify
from tests.factories import Personas, enrolled_patient

WRITERS = 20
ROUNDS = 5


def writer(number: int, people: Personas, errors: list[BaseException]) -> None:
    try:
        for round_ in range(ROUNDS):
            # The sleep before commit makes transactions commit out of the order of their event ids.
            with transaction.atomic():
                patient = enrolled_patient(people.operator, subject_code=f"CW-{number:02d}-{round_}")
                time.sleep(random.uniform(0, 0.02))
            with transaction.atomic(), audit_context(people.operator, reason="weight re-measured"):
                Patient.objects.filter(pk=patient.pk).update(body_weight_kg=Decimal("63.0"))
                time.sleep(random.uniform(0, 0.02))
    except BaseException as error:  # reported by the test, which must not hang on a dead thread
        errors.append(error)
    finally:
        connection.close()


def sealer(stop: threading.Event, errors: list[BaseException], sealed: list[int]) -> None:
    try:
        while not stop.is_set():
            sealed.append(ledger_seal().sealed)
    except BaseException as error:
        errors.append(error)
    finally:
        connection.close()


@pytest.mark.urs("URS-031")
def test_twenty_concurrent_writers_leave_a_chain_without_gaps(
    transactional_db: None, signing_pki: dict[str, str]
) -> None:
    people = Personas()
    errors: list[BaseException] = []
    sealed_while_writing: list[int] = []
    stop = threading.Event()
    sealing = threading.Thread(target=sealer, args=(stop, errors, sealed_while_writing))
    writers = [threading.Thread(target=writer, args=(n, people, errors)) for n in range(WRITERS)]
    sealing.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    stop.set()
    sealing.join(timeout=120)
    assert not errors, errors
    assert sum(sealed_while_writing) > 0  # sealing really ran alongside the writers
    ledger_seal()

    events = sum(event_model(m).objects.count() for m in GMP_MODELS)
    assert Patient.objects.filter(subject_code__startswith="CW-").count() == WRITERS * ROUNDS
    sequences = list(AuditSeal.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, events + 1))
    result = verify()
    assert result.code == 0, result.err


@pytest.mark.urs("URS-031")
def test_an_event_of_a_transaction_open_during_a_run_is_sealed_by_a_later_run(
    transactional_db: None, signing_pki: dict[str, str]
) -> None:
    """Sealing reads above a bound; an open transaction's event below the ids sealed is never passed over."""
    people = Personas()
    label = event_model(Patient)._meta.label
    written, release = threading.Event(), threading.Event()
    held: dict[str, int] = {}
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                patient = enrolled_patient(people.operator, subject_code="OPEN-1")
                held["event"] = event_model(Patient).objects.filter(pgh_obj_id=patient.pk).get().pk
                written.set()
                release.wait(timeout=60)
        except BaseException as error:
            errors.append(error)
        finally:
            written.set()
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    written.wait(timeout=60)
    later = enrolled_patient(people.operator, subject_code="AFTER-1")  # a larger id, committed first
    with audit_context(people.operator, reason="record build"):  # as a worker seals, inside its context
        first = ledger_seal()
    later_event = event_model(Patient).objects.get(pgh_obj_id=later.pk).pk
    assert held["event"] < later_event
    assert AuditSeal.objects.filter(event_model=label, event_id=later_event).exists()
    assert SealProgress.objects.get().bound.get(label, 0) < held["event"]  # the open transaction holds it back

    release.set()
    thread.join(timeout=60)
    assert not errors, errors
    second = ledger_seal()
    assert second.sealed >= 1
    assert first.sealed >= 1
    assert AuditSeal.objects.filter(event_model=label, event_id=held["event"]).exists()
    # The bound moves up once the transactions open at a run have ended (other databases' too, when
    # this role cannot tell them apart): a run or two later on a busy server.
    deadline = time.monotonic() + 60
    while SealProgress.objects.get().bound.get(label, 0) < later_event and time.monotonic() < deadline:
        time.sleep(0.2)
        ledger_seal()
    assert SealProgress.objects.get().bound[label] >= later_event
    assert ledger_seal().sealed == 0
    result = verify()
    assert result.code == 0, result.err


@pytest.mark.urs("URS-031")
def test_a_run_reads_only_the_event_tables_that_handed_out_new_ids(
    transactional_db: None, signing_pki: dict[str, str]
) -> None:
    """A build seals before it prints its checkpoint: a run with one new event reads that event's table,
    not all of them, and a run with nothing new reads none."""
    people = Personas()
    ledger_seal()
    while ledger_seal().sealed or SealProgress.objects.get().pending:  # the bound catches up with every id
        time.sleep(0.1)
    table = event_model(Patient)._meta.db_table
    with CaptureQueriesContext(connection) as nothing_new:
        assert ledger_seal().sealed == 0
    assert not [q["sql"] for q in nothing_new.captured_queries if "row_to_json" in q["sql"]]

    enrolled_patient(people.operator, subject_code="ONE-NEW-1")
    with CaptureQueriesContext(connection) as one_new:
        assert ledger_seal().sealed >= 1
    reads = [q["sql"] for q in one_new.captured_queries if "row_to_json" in q["sql"]]
    assert len(reads) == 1
    read_tables = {name for name in (e._meta.db_table for e in map(event_model, GMP_MODELS)) if f'"{name}"' in reads[0]}
    assert table in read_tables
    assert len(read_tables) < len(GMP_MODELS) / 4
    result = verify()
    assert result.code == 0, result.err

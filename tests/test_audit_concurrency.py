"""Sealing while 20 writers commit out of id order leaves a chain with every event and no gap."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from batches.audit import GMP_MODELS, audit_context, event_model
from batches.ledger.seal import ledger_seal
from batches.models import AuditSeal, Patient
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

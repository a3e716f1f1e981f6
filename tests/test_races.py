"""Two identical requests at the same moment, on two threads and two database connections: exactly one
succeeds, the other gets a clean refusal (4xx), never a 500 and never a duplicate row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from batches.models import BatchDisposition, GcsfAdministration, Patient
from batches.services import steps
from tests.factories import PASSWORD, Personas, gcsf_values, quarantined_batch, record_passing_qc, scans, walk_batch
from tests.helpers import client_for

API = "/api/v1"


def at_once(*requests: Callable[[], Any]) -> list[int]:
    """Run the requests on their own threads, released together; their status codes in order."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)
    failures: list[BaseException] = []

    def run(n: int, request: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            statuses[n] = request().status_code
        except BaseException as error:  # reported below: a thread's exception would otherwise vanish
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, r)) for n, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return statuses


def posting(user: Any, url: str, body: dict[str, Any]) -> Callable[[], Any]:
    client = client_for(user, "api")
    client.raise_request_exception = False
    return lambda: client.post(url, body, format="json")


def one_success_one_refusal(statuses: list[int], success: int) -> None:
    assert sorted(statuses)[-1] < 500, statuses
    assert statuses.count(success) == 1, statuses
    refused = [s for s in statuses if s != success]
    assert all(400 <= s < 500 for s in refused), statuses


@pytest.mark.urs("URS-204")
def test_two_concurrent_releases_of_one_batch_release_it_once(transactional_db: None) -> None:
    people = Personas()
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    url = f"{API}/batches/{batch.pk}/release/"
    statuses = at_once(*(posting(people.qa, url, {"password": PASSWORD}) for _ in range(2)))
    one_success_one_refusal(statuses, 201)
    assert BatchDisposition.objects.filter(batch=batch, decision="released").count() == 1


@pytest.mark.urs("URS-204")
def test_two_concurrent_verifications_of_one_step_verify_it_once(transactional_db: None) -> None:
    people = Personas()
    batch = walk_batch(people, "mobilization")
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(day=1),
        **scans(people, batch, "gcsf", gcsf_values(day=1)),
    )
    url = f"{API}/steps/gcsf/{step.pk}/verify/"
    statuses = at_once(*(posting(people.verifier, url, {"password": PASSWORD}) for _ in range(2)))
    one_success_one_refusal(statuses, 200)
    step = GcsfAdministration.objects.get(pk=step.pk)
    assert step.verified_by == people.verifier


@pytest.mark.urs("URS-204")
def test_two_concurrent_enrolments_of_one_subject_enrol_it_once(transactional_db: None) -> None:
    people = Personas()
    body = {
        "subject_code": "IGX1-S077",
        "consent_date": str(timezone.localdate()),
        "body_weight_kg": "60.0",
        "eligibility_confirmed": True,
    }
    statuses = at_once(*(posting(people.operator, f"{API}/patients/", body) for _ in range(2)))
    one_success_one_refusal(statuses, 201)
    assert Patient.objects.filter(subject_code="IGX1-S077").count() == 1

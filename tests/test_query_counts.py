"""The batch detail (API), the batch page (admin) and the record's snapshot cost the same number of queries at any
batch size."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from batches.demo import gcsf_values
from batches.models import AreaGrade, Batch, Equipment, MonitoringSession, ProcessDefinition, SampleKind
from batches.pdf.collect import take_snapshot
from batches.services import batch as batch_services
from batches.services import steps, workstations
from tests.factories import PASSWORD, Personas, approved_definition, scans, walk_batch
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def add_gcsf_days(people: Personas, batch: Batch, days: range) -> None:
    """Record and verify more G-CSF days: each adds a step and two signatures."""
    for day in days:
        at = timezone.now() - timedelta(days=5 - day, minutes=30)
        step = steps.step_record(
            kind="gcsf",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=gcsf_values(day, at=at),
            **scans(people, batch, "gcsf", gcsf_values(day, at=at)),
        )
        steps.step_verify(kind="gcsf", step_id=step.pk, verifier=people.verifier, password=PASSWORD)


def count_queries(get: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = get()
    assert response.status_code == 200
    return len(queries)


def collecting_batch(people: Personas, days: int) -> Batch:
    """A batch in apheresis collection after ``days`` verified G-CSF days (the regimen allows 3 to 5)."""
    definition = ProcessDefinition.objects.filter(status="approved", gcsf_days_min=3).first()
    definition = definition or approved_definition(people.qa, people.qp, gcsf_days_min=3)
    batch = walk_batch(people, "mobilization", subject_code=f"IGX1-S00{days}", definition=definition)
    add_gcsf_days(people, batch, range(1, days + 1))
    return batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)


@pytest.mark.urs("URS-220")
def test_the_api_batch_detail_costs_the_same_queries_with_three_or_five_gcsf_days(
    people: Personas, django_assert_num_queries: Any
) -> None:
    small, large = collecting_batch(people, 3), collecting_batch(people, 5)
    api = client_for(people.operator, "api")
    api.get(f"/api/v1/batches/{small.pk}/")  # warms the per-process caches (content types) for both counts
    queries = count_queries(lambda: api.get(f"/api/v1/batches/{small.pk}/"))
    assert len(api.get(f"/api/v1/batches/{small.pk}/").json()["signatures"]) == 6

    with django_assert_num_queries(queries):
        body = api.get(f"/api/v1/batches/{large.pk}/").json()
    assert len(body["signatures"]) == 10
    assert all(sig["intact"] for sig in body["signatures"])


@pytest.mark.urs("URS-220")
def test_the_batch_page_costs_the_same_queries_with_three_or_five_gcsf_days(
    people: Personas, django_assert_num_queries: Any
) -> None:
    small, large = collecting_batch(people, 3), collecting_batch(people, 5)
    browser = client_for(people.operator)
    browser.get(reverse("admin:batches_batch_change", args=[small.pk]))
    queries = count_queries(lambda: browser.get(reverse("admin:batches_batch_change", args=[small.pk])))

    with django_assert_num_queries(queries):
        body = browser.get(reverse("admin:batches_batch_change", args=[large.pk])).content.decode()
    assert body.count("cb-sig-valid") >= 10


@pytest.mark.urs("URS-220")
def test_the_records_snapshot_costs_the_same_queries_with_three_or_five_gcsf_days(
    people: Personas, django_assert_num_queries: Any
) -> None:
    """Each step's scanned inputs, source and procedure are read once for the batch, not once per step."""
    small, large = collecting_batch(people, 3), collecting_batch(people, 5)
    take_snapshot(small, kind="on_request", revision=1)
    with CaptureQueriesContext(connection) as queries:
        take_snapshot(small, kind="on_request", revision=1)
    with django_assert_num_queries(len(queries)):
        snapshot = take_snapshot(large, kind="on_request", revision=1)
    days = [s for s in snapshot.steps if s.kind == "gcsf"]
    assert len(days) == 5
    assert all(s.procedure and s.lots for s in days), days
    parameters = [row.label for row in snapshot.process]
    assert len(parameters) == len(set(parameters)), parameters  # each row of the definition once


def test_the_monitoring_sessions_list_costs_the_same_queries_with_one_or_two_sessions(people: Personas) -> None:
    cabinet = Equipment.objects.filter(area_grade=AreaGrade.A).first()
    assert cabinet is not None  # the stores' register has a grade A cabinet

    def monitor(number: int) -> MonitoringSession:
        samples = [
            (SampleKind.SETTLE_PLATE, f"SP-QC-{number}", "work zone"),
            (SampleKind.AIR_SAMPLE, f"AS-QC-{number}", "centre"),
        ]
        return workstations.monitoring_session_open(
            actor=people.operator, workstation_id=cabinet.pk, opened_at=timezone.now(), samples=samples
        )

    listed = reverse("admin:batches_monitoringsession_changelist")
    readers = (client_for(people.operator), client_for(people.qc_analyst))
    first = monitor(1)
    one = [count_queries(partial(reader.get, listed)) for reader in readers]
    workstations.monitoring_session_close(actor=people.operator, session_id=first.pk, closed_at=timezone.now())
    monitor(2)
    assert MonitoringSession.objects.count() == 2
    assert [count_queries(partial(reader.get, listed)) for reader in readers] == one

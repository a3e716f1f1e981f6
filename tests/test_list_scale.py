"""The batch lists at any size: index-served order, filters and prefix search; no count of every batch."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Model
from django.urls import reverse

from batches import selectors
from batches.admin import pagination
from batches.admin.pagination import EstimatedCountPaginator
from batches.dbrole import owner_session
from batches.models import Batch, Patient
from batches.selectors import batches_matching, matching_ids
from tests.factories import Personas, walk_batch
from tests.helpers import client_for, staff_client_for

pytestmark = pytest.mark.django_db


def plan_of(queryset: Any, *, without: tuple[str, ...] = ()) -> str:
    """The plan PostgreSQL picks when a sequential scan is not an option (as on a big table), and, when
    ``without`` names indexes, without them (dropped inside a savepoint that is rolled back at once): on
    a table of a few rows two indexes can cost the same, and which the planner takes then depends on
    the table's statistics of the moment, not on which one serves the query."""
    with transaction.atomic(), connection.cursor() as cursor:
        if without:
            with owner_session():
                cursor.execute("DROP INDEX " + ", ".join(map(connection.ops.quote_name, without)))
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = str(queryset.explain())
        transaction.set_rollback(True)
    return plan


def copies(model: type[Model], of: Model, *, count: int, unique: dict[str, str]) -> None:
    """``count`` copies of the row ``of``, each ``unique`` column set to its SQL expression of ``n``."""
    kept = [f.column for f in model._meta.concrete_fields if f.column and not f.primary_key and f.column not in unique]
    quote = connection.ops.quote_name
    columns = ", ".join(map(quote, [*kept, *unique]))
    values = ", ".join([*map(quote, kept), *unique.values()])
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {values} FROM {table}, generate_series(1, %s) AS n "
            f"WHERE {pk} = %s",
            [count, of.pk],
        )


def search_plan_on_big_tables(batch: Batch, term: str, *, count: int = 2000) -> str:
    """The search's plan once the patient and batch tables hold ``count`` more rows, analysed: on tables of
    a row or two every index costs the same, and which one the planner takes is chance. The rows go with
    the savepoint, rolled back at once."""
    with transaction.atomic():
        copies(Patient, batch.patient, count=count, unique={"subject_code": "'ZZ-' || n"})
        copies(
            Batch,
            batch,
            count=count,
            unique={
                "batch_number": "'ZZ-' || n",
                "din": "'ZZ' || n",
                "patient_id": "(SELECT id FROM batches_patient WHERE subject_code = 'ZZ-' || n)",  # one each
            },
        )
        with owner_session(), connection.cursor() as cursor:
            cursor.execute("ANALYZE batches_patient, batches_batch")
        plan = plan_of(matching_ids(term))
        transaction.set_rollback(True)
    return plan


@pytest.mark.urs("URS-221")
def test_the_lists_order_filter_and_search_through_indexes(people: Personas) -> None:
    batch = walk_batch(people, "registered", subject_code="IGX1-S001")
    newest = Batch.objects.order_by("-registered_at", "-id")[:51]
    assert "batch_registered_idx" in plan_of(newest)
    by_status = Batch.objects.filter(status="registered").order_by("-registered_at")[:51]
    served = plan_of(by_status, without=("batch_registered_idx",))
    assert "batch_status_idx" in served
    assert "Sort" not in served  # the index gives the order too
    for term in (batch.batch_number[:6].lower(), "igx1-s0"):
        search = search_plan_on_big_tables(batch, term)
        assert "batch_number_prefix_idx" in search
        assert "patient_subject_prefix_idx" in search


@pytest.mark.urs("URS-221")
def test_search_finds_batch_number_and_subject_code_prefixes_in_any_case(people: Personas) -> None:
    first = walk_batch(people, "registered", subject_code="IGX1-S001")
    second = walk_batch(people, "registered", subject_code="IGX1-S002")
    api = client_for(people.auditor, "token")

    def found(term: str) -> set[str]:
        return {b["batch_number"] for b in api.get("/api/v1/batches/", {"search": term}).json()["results"]}

    assert found("igx1-s002") == {second.batch_number}
    assert found("IGX1-S00") == {first.batch_number, second.batch_number}
    assert found(first.batch_number.lower()) == {first.batch_number}
    assert found("S001") == set()  # a prefix search: the middle of a code does not match
    assert found("%") == set()  # LIKE wildcards are matched literally

    admin = staff_client_for(people.auditor)
    page = admin.get(reverse("admin:batches_batch_changelist"), {"q": "igx1-s001"}).content.decode()
    assert first.batch_number in page
    assert second.batch_number not in page


@pytest.mark.urs("URS-221")
def test_a_search_with_more_matches_than_are_read_by_id_finds_the_same_batches(
    people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = [walk_batch(people, "registered", subject_code=f"IGX1-S00{n}") for n in (1, 2, 3)]
    every = Batch.objects.order_by("-registered_at", "-id")

    def found(term: str) -> list[str]:
        return list(batches_matching(every, term).values_list("batch_number", flat=True))

    by_id = (found("igx1-s00"), found(batches[0].batch_number.lower()), found("igx1-s002"), found("nothing"))
    monkeypatch.setattr(selectors, "SEARCH_BY_ID_MAX", 1)  # the three batches now count as many
    assert (found("igx1-s00"), found(batches[0].batch_number.lower()), found("igx1-s002"), found("nothing")) == by_id
    assert by_id[0] == [b.batch_number for b in reversed(batches)]
    assert by_id[2] == [batches[1].batch_number]
    assert by_id[3] == []


@pytest.mark.urs("URS-221")
def test_the_admin_counts_a_big_unfiltered_list_from_the_table_statistics(
    people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 4):
        walk_batch(people, "registered", subject_code=f"IGX1-S00{n}")
    # The table's owner analyses it (as autovacuum does); the application's role may not.
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("ANALYZE batches_batch")
    assert EstimatedCountPaginator(Batch.objects.all(), 50).count == 3  # small: counted exactly

    monkeypatch.setattr(pagination, "EXACT_BELOW", 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'batches_batch'")
        (estimate,) = cursor.fetchone()
    assert EstimatedCountPaginator(Batch.objects.all(), 50).count == estimate
    # A filtered list is still counted exactly.
    assert EstimatedCountPaginator(Batch.objects.filter(patient__subject_code="IGX1-S002"), 50).count == 1
    response = staff_client_for(people.auditor).get(reverse("admin:batches_batch_changelist"))
    assert response.status_code == 200

"""The batch page shows the newest audit entries of the batch, read in one query, with a link to the full trail."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from batches.ledger.trail import batch_trail, latest_batch_entries
from batches.models import Batch
from batches.services import steps
from batches.views.batch_page import LATEST_AUDIT_ENTRIES
from tests.factories import PASSWORD, Personas, gcsf_values, scans, walk_batch
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def corrected_batch(people: Personas, corrections: int) -> Batch:
    batch = walk_batch(people, "mobilization", subject_code=f"IGX1-S{corrections:03d}")
    values = gcsf_values(1)
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=values,
        **scans(people, batch, "gcsf", values),
    )
    for n in range(corrections):
        steps.step_correct(
            kind="gcsf",
            step_id=step.pk,
            actor=people.operator,
            password=PASSWORD,
            values={"drug_lot": f"FIL-24-{200 + n}"},
            reason=f"lot number mistyped ({n + 1})",
        )
    return batch


@pytest.mark.urs("URS-224")
def test_the_latest_entries_are_the_newest_of_the_trail_with_their_complete_diffs(people: Personas) -> None:
    batch = corrected_batch(people, 14)

    latest = latest_batch_entries(batch, LATEST_AUDIT_ENTRIES)

    newest_first = list(reversed(batch_trail(batch)))[:LATEST_AUDIT_ENTRIES]
    assert [e.event for e in latest] == [e.event for e in newest_first]
    # Same actor, reason and old → new values as the full trail.
    assert [(e.event, e.actor, e.reason, e.diff) for e in latest] == [
        (e.event, e.actor, e.reason, e.diff) for e in newest_first
    ]
    correction = next(e for e in latest if "drug_lot" in e.diff)
    assert correction.reason == "lot number mistyped (14)"
    assert correction.diff["drug_lot"] == ("FIL-24-212", "FIL-24-213")


@pytest.mark.urs("URS-224")
def test_the_batch_page_shows_the_latest_entries_to_qa_in_the_same_queries_whatever_the_trail(
    people: Personas, django_assert_num_queries: Any
) -> None:
    short, long = corrected_batch(people, 1), corrected_batch(people, 25)
    browser = client_for(people.qa)
    url = reverse("admin:batches_batch_change", args=[short.pk])
    browser.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(url).status_code == 200

    with django_assert_num_queries(len(queries)):
        page = browser.get(reverse("admin:batches_batch_change", args=[long.pk]))
    html = page.content.decode()
    card = html[html.index('id="latest-audit"') :].split('<div class="cb-card"')[0]
    assert len(page.context["latest_audit"]) == LATEST_AUDIT_ENTRIES
    assert "lot number mistyped (25)" in card
    assert "lot number mistyped (1)<" not in card
    assert reverse("admin:batches_batch_audit", args=[long.pk]) in card


@pytest.mark.urs("URS-224")
def test_roles_that_may_not_read_the_trail_do_not_see_it_on_the_batch_page(people: Personas) -> None:
    batch = corrected_batch(people, 1)
    page = client_for(people.operator).get(reverse("admin:batches_batch_change", args=[batch.pk]))
    assert page.status_code == 200
    assert page.context["latest_audit"] is None
    assert 'id="latest-audit"' not in page.content.decode()

"""Every role's user lands on an admin index that lists that role's work, and every link on it opens."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.urls import reverse

from tests.factories import Personas, walk_batch
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

# The first words of each role's card and a page it must lead to (by URL name, query string left out).
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "operator": ("Manufacturing", ["queue:dispatch", "admin:batches_batch_changelist", "admin:batches_batch_add"]),
    "verifier": ("Second-person verification", ["queue:verify-steps", "queue:review-results"]),
    "qc_analyst": ("QC laboratory", ["queue:record-results", "admin:qc_qcsample_add", "admin:qc_qcresult_add"]),
    "qa": (
        "Quality assurance",
        ["queue:decide", "queue:close", "admin:qc_review_index", "admin:qc_deviation_changelist"],
    ),
    "qp": (
        "Qualified Person",
        ["queue:certify", "admin:qc_review_index", "admin:batches_processdefinition_changelist"],
    ),
    "clinician": (
        "Delivery and follow-up",
        ["queue:arriving", "admin:batches_delivery_desk_index", "admin:batches_cohort"],
    ),
    "auditor": ("Inspection (read-only)", ["admin:batches_batch_changelist", "admin:batches_batchdocument_changelist"]),
    "admin": ("Accounts and master data", ["admin:auth_user_changelist", "admin:batches_processdefinition_changelist"]),
}


def path_of(name: str) -> str:
    """A URL name, or "queue:<slug>" for a work queue's page."""
    if name.startswith("queue:"):
        return reverse("admin:work_queue", args=[name.removeprefix("queue:")])
    return reverse(name)


def card_links(body: str) -> list[str]:
    start = body.index('id="role-home"')
    card = body[start : body.index('<div class="app-', start)] if '<div class="app-' in body[start:] else body[start:]
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', card)]


@pytest.mark.urs("URS-125")
@pytest.mark.parametrize("persona", list(EXPECTED))
def test_each_role_lands_on_an_index_with_its_work_and_every_link_opens(people: Personas, persona: str) -> None:
    walk_batch(people, "registered")  # a batch in the lists
    user: Any = getattr(people, persona)
    client = client_for(user)
    body = client.get(reverse("admin:index")).content.decode()
    title, must = EXPECTED[persona]
    assert f"<h2>{title}</h2>" in body
    links = card_links(body)
    paths = {link.split("?")[0] for link in links}
    for name in must:
        assert path_of(name) in paths, (persona, name, links)
    for link in links:
        assert client.get(link).status_code == 200, (persona, link)
    # The admin's empty "Recent actions" box is gone: saves never go through the admin's own forms.
    assert "Recent actions" not in body


@pytest.mark.urs("URS-125")
def test_a_user_with_two_roles_sees_both_cards_and_the_auditor_reaches_each_users_activity(people: Personas) -> None:
    from tests.factories import make_user

    both = make_user("analyst_verifier", "qc_analyst", "verifier")
    client = client_for(both)
    body = client.get(reverse("admin:index")).content.decode()
    assert body.index("<h2>Second-person verification</h2>") < body.index("<h2>QC laboratory</h2>")

    auditor = client_for(people.auditor)
    index = auditor.get(reverse("admin:index")).content.decode()
    activity = reverse("admin:audit_user_activity", args=[people.operator.pk])
    assert activity in index
    assert auditor.get(activity).status_code == 200

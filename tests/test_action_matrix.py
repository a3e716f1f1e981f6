"""Each state-change action is declared once, and everything reads that declaration: the services'
guards, the batch page's buttons, the QA review's choices, the API's role gate, and the printed matrix.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from batches.api.views import BatchViewSet
from batches.exceptions import StateConflict
from batches.models import Batch, BatchTransition
from batches.roles import Role
from batches.services.actions import StateAction, declared_actions
from batches.states import BatchStatus
from scripts.action_matrix import matrix
from tests.custody_helpers import infusion_values
from tests.factories import PASSWORD, Personas, make_user, walk_batch

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = declared_actions()
# What each service needs besides the actor and the batch; the guard refuses before any of it is used.
EXTRA: dict[str, dict[str, Any]] = {
    "cancel": {"reason": "Patient withdrew consent."},
    "release": {"password": PASSWORD},
    "release-conditionally": {"password": PASSWORD, "positive_result_plan": "Recall and treat per SOP-QA-012."},
    "reject": {"password": PASSWORD, "reason": "Purity out of specification."},
    "certify": {"password": PASSWORD},
    "certify-final": {"password": PASSWORD},
    "authorise-conditional-release": {"password": PASSWORD},
    "acknowledge-conditional-release": {"password": PASSWORD},
    "close-follow-up": {"password": PASSWORD, "reason": "Culture negative at 14 days."},
    "close-rejected": {"password": PASSWORD},
    "dispatch": {"password": PASSWORD, "to_location": "Interventional radiology", "temperature_c": Decimal("4.0")},
    "infuse": {"password": PASSWORD, **infusion_values()},
    "close": {"password": PASSWORD},
    "verify-gcsf-days": {"password": PASSWORD},
    "review-results": {"password": PASSWORD},
}


def call(action: StateAction, actor: Any, batch: Batch) -> Any:
    return action.service(actor=actor, batch_id=batch.pk, **EXTRA.get(action.slug, {}))


def test_the_printed_matrix_matches_the_declarations() -> None:
    written = (ROOT / "docs" / "action-matrix.md").read_text()
    assert written == matrix(), "docs/action-matrix.md is stale: run scripts/action_matrix.py > docs/action-matrix.md"


def test_every_declared_action_has_its_one_service_and_a_unique_slug() -> None:
    slugs = [a.slug for a in ACTIONS]
    assert len(slugs) == len(set(slugs))
    assert {"start-mobilization", "cancel", "release", "certify", "dispatch", "infuse", "close"} <= set(slugs)
    for action in ACTIONS:
        assert callable(action.service), action.slug


@pytest.mark.django_db
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.slug)
def test_the_guard_refuses_a_role_the_declaration_does_not_name(people: Personas, action: StateAction) -> None:
    batch = walk_batch(people, "registered")
    outsider = make_user("outsider", *(r for r in Role if r not in action.roles and r != Role.ADMIN))
    before = BatchTransition.objects.count()
    with pytest.raises(PermissionDenied, match=re.escape(f"{action.label} requires the role")):
        call(action, outsider, batch)
    assert BatchTransition.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("action", [a for a in ACTIONS if BatchStatus.REGISTERED not in a.source], ids=lambda a: a.slug)
def test_the_guard_refuses_a_state_the_declaration_does_not_name(people: Personas, action: StateAction) -> None:
    batch = walk_batch(people, "registered")
    actor = make_user("holder", *action.roles)
    with pytest.raises(
        StateConflict, match=re.escape(f"{action.label} is possible only when batch {batch.batch_number} is")
    ):
        call(action, actor, batch)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.REGISTERED


def test_the_api_role_gate_is_the_declarations() -> None:
    on_page = {a.slug.replace("-", "_"): a.roles for a in ACTIONS if a.on_batch_page}
    assert {k: v for k, v in BatchViewSet.write_roles.items() if k != "create"} == on_page


@pytest.mark.django_db
def test_the_batch_page_offers_the_buttons_the_guard_would_pass(people: Personas) -> None:
    batch = walk_batch(people, "registered")
    client = Client()
    client.force_login(people.operator)
    body = client.get(reverse("admin:batches_batch_change", args=[batch.pk])).content.decode()
    for action in ACTIONS:
        url = reverse("admin:batches_batch_transition", args=[batch.pk, action.slug]) if action.on_batch_page else ""
        shown = bool(url) and url in body
        assert shown == (action.on_batch_page and action.offered(batch, people.operator)), action.slug
    client.force_login(people.auditor)
    body = client.get(reverse("admin:batches_batch_change", args=[batch.pk])).content.decode()
    assert "/transition/" not in body

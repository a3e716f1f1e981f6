"""The test factories stay cheap and true: the SOP register and the personas' training are written in a few
set-based statements (tests/factories.py), and what they write is what the services write."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import transaction

from batches.competence import ACTIVITY_ROLES
from batches.demo_people import register_ensure
from batches.models import DocumentVersion, TrainingRecord
from batches.roles import Role, user_roles
from batches.services import training
from tests.factories import PASSWORD, Personas, approved_definition, give_current_training, make_user, sop_register

pytestmark = pytest.mark.django_db

COMPARED = (
    "version",
    "file_name",
    "sha256",
    "size_bytes",
    "effective_from",
    "grace_days",
    "retraining_interval_days",
    "supervised_practices_required",
    "superseded_on",
    "status",
)


def described(versions: dict[str, DocumentVersion]) -> dict[str, tuple[Any, ...]]:
    return {
        number: (v.document.title, v.document.kind, *(getattr(v, name) for name in COMPARED))
        for number, v in versions.items()
    }


def test_the_factory_register_is_the_register_the_document_services_build(empty_database: None) -> None:
    qa = make_user("doc_qa", Role.QA_REVIEWER, trained=False)
    qp = make_user("doc_qp", Role.QUALIFIED_PERSON, trained=False)
    with transaction.atomic():  # the register as the demo seed builds it, rolled back once described
        built = described(register_ensure(qa=qa, qp=qp, password=PASSWORD))
        transaction.set_rollback(True)
    assert not DocumentVersion.objects.exists()
    ours = sop_register()
    assert described(ours) == built
    for version in ours.values():
        assert version.first_approved_by_id != version.second_approved_by_id
        with default_storage.open(version.storage_path, "rb") as stored:
            assert len(stored.read()) == version.size_bytes


def test_personas_cost_a_bounded_number_of_queries_and_pass_the_real_training_gate(
    django_assert_max_num_queries: Any,
) -> None:
    with django_assert_max_num_queries(450):
        people = Personas()
    definition = approved_definition(people.qa, people.qp)
    for user in vars(people).values():
        for activity, roles in ACTIVITY_ROLES.items():
            if user_roles(user) & roles:
                training.training_require(user, definition, activity)


def test_training_more_users_costs_the_same_few_statements(
    people: Personas, django_assert_max_num_queries: Any
) -> None:
    newcomers = [make_user(f"newcomer{i}", Role.OPERATOR, trained=False) for i in range(5)]
    with django_assert_max_num_queries(6):
        give_current_training(*newcomers)
    assert (
        TrainingRecord.objects.filter(trainee__in=newcomers).count()
        == 5 * TrainingRecord.objects.filter(trainee=people.operator).count()
    )

"""A model's CHECK constraints are validated in one query and decide exactly as Django's own validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import CheckConstraint
from django.test.utils import CaptureQueriesContext

from batches.models import ProcessDefinition
from batches.models.checks import ChecksInOneQuery
from batches.models.delivery import AdverseEvent

pytestmark = pytest.mark.django_db


def errors(validate: Any) -> tuple[dict[str, list[str]], int]:
    """The messages ``validate()`` raises (none: {}) and the queries it took."""
    with CaptureQueriesContext(connection) as queries:
        try:
            validate()
        except ValidationError as error:
            return error.message_dict, len(queries)
        return {}, len(queries)


def djangos(instance: models.Model, exclude: set[str] | None = None) -> Any:
    """Django's own validation of the constraints, one query per CHECK constraint."""
    return lambda: models.Model.validate_constraints(instance, exclude=exclude)


def ours(instance: models.Model, exclude: set[str] | None = None) -> Any:
    return lambda: instance.validate_constraints(exclude=exclude)


def test_every_model_with_check_constraints_checks_them_in_one_query() -> None:
    with_checks = [
        model
        for model in apps.get_models()
        if model.__module__.startswith(("batches.", "qc."))
        and any(isinstance(constraint, CheckConstraint) for constraint in model._meta.constraints)
        and not model.__name__.endswith("Event")  # the audit's event copies are written by triggers only
    ]
    assert len(with_checks) > 30
    assert [model.__name__ for model in with_checks if not issubclass(model, ChecksInOneQuery)] == []


@pytest.mark.parametrize(
    ("values", "broken"),
    [
        ({}, set()),
        ({"gcsf_days_min": 6, "gcsf_days_max": 4}, {"process_definition_gcsf_days_ordered"}),
        (
            {"target_dose_min_cells": 0, "gcsf_days_min": 9},
            {"process_definition_dose_window_ordered", "process_definition_gcsf_days_ordered"},
        ),
        ({"status": "approved"}, {"process_definition_approved_needs_two_approvals"}),
    ],
)
def test_a_definition_breaking_any_of_its_checks_is_refused_as_django_refuses_it(
    values: dict[str, Any], broken: set[str]
) -> None:
    fields = {
        "code": "CHK",
        "version": 1,
        "name": "Checked",
        "gcsf_days_min": 4,
        "gcsf_days_max": 5,
        "target_dose_min_cells": Decimal("1e6"),
        "target_dose_max_cells": Decimal("1e8"),
    }
    definition = ProcessDefinition(**{**fields, **values})
    expected, django_queries = errors(djangos(definition))
    found, our_queries = errors(ours(definition))
    assert found == expected
    messages = {
        constraint.get_violation_error_message()
        for constraint in ProcessDefinition._meta.constraints
        if constraint.name in broken
    }
    assert set(found.get("__all__", [])) == messages
    # Django: a savepoint, the query and its release for each of the four checks, and the unique check.
    assert django_queries >= 3 * 4
    assert our_queries <= django_queries - 3 * 3


def test_a_check_naming_a_field_left_out_is_skipped_as_django_skips_it() -> None:
    event = AdverseEvent(ctcae_grade=7)
    assert errors(ours(event))[0] == errors(djangos(event))[0] != {}
    assert errors(ours(event, exclude={"ctcae_grade"}))[0] == errors(djangos(event, exclude={"ctcae_grade"}))[0]

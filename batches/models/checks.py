"""Validation of a model's CHECK constraints in one query instead of one per constraint.

Django's ``full_clean`` asks the database about each ``CheckConstraint`` on its own: inside a
transaction that is a savepoint, the query and the savepoint's release, three round trips per
constraint at every validated write (a step record has seven). ``ChecksInOneQuery`` asks about all the
constraints of a model in one statement, inside one savepoint. What it decides is Django's rule,
constraint by constraint: a constraint holds unless its condition is false, a constraint naming a
field left out of the validation is skipped, and a database error counts as passing (logged), as in
``Q.check``; the messages and codes are the constraints' own.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from contextlib import nullcontext
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import BooleanField, CheckConstraint, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

logger = logging.getLogger(__name__)


def failing_checks(
    instance: models.Model,
    model: type[models.Model],
    constraints: list[CheckConstraint],
    *,
    exclude: Collection[str] | None,
    using: str,
) -> set[str]:
    """The names of the ``constraints`` of ``model`` that ``instance`` breaks, asked in one query."""
    against = instance._get_field_expression_map(meta=model._meta, exclude=exclude)  # type: ignore[attr-defined]
    query = Query(None)
    for name, value in against.items():
        query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    asked: dict[str, str] = {}
    for number, constraint in enumerate(constraints):
        alias = f"_check_{number}"
        try:
            query.add_annotation(Coalesce(Q(constraint.condition), True, output_field=BooleanField()), alias)
        except FieldError:
            continue  # it names a field left out of this validation: Django skips it too
        asked[alias] = constraint.name
    if not asked:
        return set()
    connection = connections[using]
    try:
        with transaction.atomic(using=using) if connection.in_atomic_block else nullcontext():
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError as error:
        logger.warning("Got a database error checking the constraints of %s: %s", model._meta.label, error)
        return set()
    return {name for name, holds in zip(asked.values(), row or (), strict=False) if holds is False}


class ChecksInOneQuery(models.Model):
    """A model whose ``full_clean`` checks its CHECK constraints in one query (module docstring)."""

    class Meta:
        abstract = True

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        exclude = set(exclude) if exclude is not None else None
        using = router.db_for_write(type(self), instance=self)
        errors: dict[str, Any] = {}
        for model, constraints in self.get_constraints():
            checks = [constraint for constraint in constraints if isinstance(constraint, CheckConstraint)]
            broken = failing_checks(self, model, checks, exclude=exclude, using=using) if checks else set()
            for constraint in constraints:
                try:
                    if not isinstance(constraint, CheckConstraint):
                        constraint.validate(model, self, exclude=exclude, using=using)
                    elif constraint.name in broken:
                        raise ValidationError(
                            constraint.get_violation_error_message(), code=constraint.violation_error_code
                        )
                except ValidationError as error:
                    fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                    if getattr(error, "code", None) == "unique" and len(fields) == 1:
                        errors.setdefault(fields[0], []).append(error)
                    else:
                        errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

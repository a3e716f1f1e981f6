"""Personas and ready-made records for tests: every batch is walked through the real services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User

from batches import demo
from batches.demo import Cast, apheresis_values, definition_values, gcsf_values, selection_values
from batches.models import Batch, Patient, ProcessDefinition
from batches.roles import Role

PASSWORD = "correct-horse-battery-staple-7"


def make_user(username: str, *roles: Role | str, **extra: Any) -> User:
    defaults = {"first_name": username.title(), "is_staff": True, **extra}
    user, _ = User.objects.get_or_create(username=username, defaults=defaults)
    user.set_password(PASSWORD)
    user.save()
    for role in roles:
        group, _ = Group.objects.get_or_create(name=str(role))
        user.groups.add(group)
    return user


class Personas:
    """One user per role, as in DESIGN.md §1 (created on demand in a test database)."""

    def __init__(self) -> None:
        self.operator = make_user("operator", Role.OPERATOR)
        self.verifier = make_user("verifier", Role.VERIFIER)
        self.qc_analyst = make_user("qc_analyst", Role.QC_ANALYST)
        self.qa = make_user("qa_reviewer", Role.QA_REVIEWER)
        self.qp = make_user("qualified_person", Role.QUALIFIED_PERSON)
        self.clinician = make_user("clinician", Role.CLINICIAN)
        self.auditor = make_user("auditor", Role.AUDITOR)
        self.admin = make_user("admin", Role.ADMIN, is_staff=True, is_superuser=True)


def cast(people: Personas) -> Cast:
    return Cast(operator=people.operator, verifier=people.verifier, qa=people.qa, qp=people.qp, password=PASSWORD)


def approved_definition(qa: User, qp: User, **overrides: Any) -> ProcessDefinition:
    return demo.approved_definition(Cast(operator=qa, verifier=qp, qa=qa, qp=qp, password=PASSWORD), **overrides)


def enrolled_patient(actor: User, subject_code: str = "IGX1-S001", weight: str = "62.5") -> Patient:
    return demo.enrol(actor, subject_code, weight)


def walk_batch(
    people: Personas, target: str, *, subject_code: str = "IGX1-S001", definition: ProcessDefinition | None = None
) -> Batch:
    """Create a batch and walk it through the services up to ``target`` (at most quarantine)."""
    definition = definition or ProcessDefinition.objects.filter(status="approved", code="IGX1").first()
    if definition is None:
        definition = approved_definition(people.qa, people.qp)
    patient = enrolled_patient(people.operator, subject_code=subject_code)
    batch = demo.register(cast(people), patient, definition)
    return demo.walk_to(cast(people), batch, target)


__all__ = [
    "PASSWORD",
    "Personas",
    "apheresis_values",
    "definition_values",
    "gcsf_values",
    "selection_values",
]

"""Personas and ready-made records for tests: every batch is walked through the real services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from batches import demo
from batches.demo import Cast, apheresis_values, definition_values, gcsf_values, selection_values
from batches.models import Batch, Patient, ProcessDefinition
from batches.roles import Role
from qc import demo as qc_demo
from qc.demo import PASSING_RESULTS
from qc.models import QcResult, QcSample

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
    """One user per role, as in docs/domain.md §Who does what (created on demand in a test database)."""

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
    people: Personas,
    target: str,
    *,
    subject_code: str = "IGX1-S001",
    definition: ProcessDefinition | None = None,
    labelled: bool = True,
) -> Batch:
    """Create a batch and walk it through the services up to ``target`` (at most quarantine)."""
    definition = definition or ProcessDefinition.objects.filter(status="approved", code="IGX1").first()
    if definition is None:
        definition = approved_definition(people.qa, people.qp)
    patient = enrolled_patient(people.operator, subject_code=subject_code)
    batch = demo.register(cast(people), patient, definition)
    return demo.walk_to(cast(people), batch, target, labelled=labelled)


# --- QC and release (qc app, batches.release.disposition) -------------------------------------------


def approved_specification(people: Personas, *, product: str = "IGX1", limits: list[dict[str, Any]] | None = None):
    """An approved QC specification, effective now (create it before the batch enters processing)."""
    from qc.services import specifications

    spec = specifications.specification_create(
        actor=people.qa,
        product=product,
        title=f"{product} release specification",
        requested_effective_from=timezone.now(),
        limits=limits,
    )
    specifications.specification_approve(specification_id=spec.pk, approver=people.qa, password=PASSWORD)
    return specifications.specification_approve(specification_id=spec.pk, approver=people.qp, password=PASSWORD)


def quarantined_batch(
    people: Personas,
    *,
    subject_code: str = "IGX1-S001",
    definition: ProcessDefinition | None = None,
    labelled: bool = True,
) -> Batch:
    """A batch in quarantine with an approved specification that applies to it."""
    from qc.models import Specification

    if not Specification.objects.filter(status="approved", product="IGX1").exists():
        approved_specification(people)
    return walk_batch(people, "quarantine", subject_code=subject_code, definition=definition, labelled=labelled)


def qc_sample(people: Personas, batch: Batch, code: str | None = None):
    from qc.services.testing import qc_sample_record

    return qc_sample_record(
        actor=people.qc_analyst,
        batch_id=batch.pk,
        step="final_product",
        sample_code=code or f"{batch.batch_number}-QC{QcSample.objects.filter(batch=batch).count() + 1}",
        taken_at=timezone.now() - timedelta(minutes=4),
    )


def record_result(
    people: Personas, batch: Batch, test: str, value: Any, unit: str = "", *, review: bool = True, **kw: Any
):
    """Record (and by default review) one result on a fresh sample; returns the result."""
    from qc.services.testing import qc_result_record, qc_result_review

    sample = kw.pop("sample", None) or qc_sample(people, batch)
    result = qc_result_record(
        actor=people.qc_analyst,
        sample_id=sample.pk,
        test=test,
        value=value,
        unit=unit,
        instrument="FACSCanto II" if unit == "%" else "",
        tested_at=timezone.now() - timedelta(minutes=2),
        password=PASSWORD,
        **kw,
    )
    if review:
        for each in QcResult.objects.filter(batch=batch, verified_by__isnull=True):
            qc_result_review(reviewer=people.verifier, result_id=each.pk, password=PASSWORD)
    return result


def crew(people: Personas) -> qc_demo.Crew:
    """The demo crew of these personas (QC and release need no second clinician)."""
    return qc_demo.Crew(
        cast=cast(people), analyst=people.qc_analyst, clinician=people.clinician, second_clinician=people.clinician
    )


def record_passing_qc(people: Personas, batch: Batch, *, skip: tuple[str, ...] = ("sterility",)) -> None:
    """Record and review passing results for every test except ``skip`` (sterility: pending by default)."""
    qc_demo.record_qc(crew(people), batch, {k: v for k, v in PASSING_RESULTS.items() if k not in skip})


def release_batch(people: Personas, batch: Batch, *, conditionally: bool = False, certify: bool = True) -> Batch:
    """Record passing QC and release the batch (QA), then certify it (QP) when the definition requires it."""
    return qc_demo.release_batch(crew(people), batch, conditionally=conditionally, certify=certify)


# Value builders live in batches.demo (seed_demo uses them too); tests import them from here.
__all__ = [
    "PASSING_RESULTS",
    "PASSWORD",
    "Personas",
    "apheresis_values",
    "definition_values",
    "gcsf_values",
    "selection_values",
]

"""Personas and ready-made records for tests: every batch is walked through the real services."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from batches import demo
from batches.audit import audit_context
from batches.demo import Cast, apheresis_values, definition_values, gcsf_values, selection_values
from batches.demo_people import (
    DEMO_PROCEDURES,
    demo_file,
    identity_give,
    register_terms,
    register_versions,
)
from batches.models import (
    ApprovalStatus,
    Batch,
    ControlledDocument,
    DocumentVersion,
    Patient,
    ProcessDefinition,
    TrainingRecord,
)
from batches.models.training import TrainingMethod
from batches.personal import SIGNING_ROLES
from batches.roles import Role
from qc import demo as qc_demo
from qc.demo import PASSING_RESULTS
from qc.models import QcResult

PASSWORD = "correct-horse-battery-staple-7"


def make_user(username: str, *roles: Role | str, trained: bool = True, **extra: Any) -> User:
    """A user of one identified person, holding ``roles``, currently trained on every SOP in force.

    ``trained=False`` gives an account that is new to the work: no training record at all.
    """
    user = _account(username, *roles, **extra)
    if trained and set(map(str, roles)) & SIGNING_ROLES:
        give_current_training(user)
    return user


def _account(username: str, *roles: Role | str, **extra: Any) -> User:
    """The account, its person and its roles; no training."""
    defaults = {"first_name": username.title(), "is_staff": True, "password": make_password(PASSWORD), **extra}
    user, created = User.objects.get_or_create(username=username, defaults=defaults)
    if not created:
        user.set_password(PASSWORD)
        user.save()
    identity_give(user, employee_number=f"E-{user.pk:05d}", email=f"{username}@example.org")
    for role in roles:
        group, _ = Group.objects.get_or_create(name=str(role))
        user.groups.add(group)
    return user


def sop_register() -> dict[str, DocumentVersion]:
    """The demo SOP register of batches.demo_people (version 1 of each SOP with its file, in force for two
    years, approved by two document-control users of its own), created when missing.

    Written in a few set-based statements inside one audit context rather than through the document
    services, because every test that creates a trained user needs it; tests/test_training.py proves
    those services, and the demo seed builds its register through them (demo_people.register_ensure).
    """
    found = register_versions()
    if len(found) == len(DEMO_PROCEDURES):
        return found
    author = _account("sop_author", Role.QA_REVIEWER, last_name="Author")
    approver = _account("sop_approver", Role.QUALIFIED_PERSON, last_name="Approver")
    missing = [procedure for procedure in DEMO_PROCEDURES if procedure.number not in found]
    now = timezone.now()
    versions = []
    with audit_context("system:tests", reason="SOP register in force before the test began"):
        documents = ControlledDocument.objects.bulk_create(
            ControlledDocument(number=procedure.number, title=procedure.title) for procedure in missing
        )
        for procedure, document in zip(missing, documents, strict=True):
            content = demo_file(procedure, 1)
            path = f"controlled-documents/{procedure.number}/v1/{procedure.number}-v1.pdf"
            if not default_storage.exists(path):  # the same file for every test: written once
                path = default_storage.save(path, ContentFile(content))
            versions.append(
                DocumentVersion(
                    document=document,
                    version=1,
                    file_name=f"{procedure.number}-v1.pdf",
                    storage_path=path,
                    sha256=hashlib.sha256(content).hexdigest(),
                    size_bytes=len(content),
                    **register_terms(procedure),
                    status=ApprovalStatus.APPROVED,
                    created_by=author,
                    first_approved_by=author,
                    first_approved_at=now,
                    second_approved_by=approver,
                    second_approved_at=now,
                )
            )
        DocumentVersion.objects.bulk_create(versions)
    return {**found, **{version.document.number: version for version in versions}}


def give_current_training(*users: User) -> None:
    """The one place where test users get their training: signed, passed, current training on every SOP of
    the register (with the supervised practices it asks for), as staff trained before the test began.

    Written in one statement for all ``users`` rather than through the training services (which
    tests/test_training.py exercises), because every persona of every test needs it. Users who hold any
    training record already are left as they are.
    """
    versions = sop_register()
    done = set(TrainingRecord.objects.filter(trainee__in=users).values_list("trainee_id", flat=True))
    now = timezone.now()
    on = timezone.localdate() - timedelta(days=30)
    records = [
        TrainingRecord(
            trainee=user,
            document_version=version,
            trainer_id=version.created_by_id,
            trained_on=on,
            method=method,
            assessment="Trained before the test began.",
            passed=True,
            valid_until=on + timedelta(days=365),
            trainer_signed_at=now,
            trainee_signed_at=now,
        )
        for user in users
        if user.pk not in done
        for version in versions.values()
        for method in [TrainingMethod.READ] + [TrainingMethod.SUPERVISED] * version.supervised_practices_required
        if user.pk != version.created_by_id
    ]
    if records:
        with audit_context("system:tests", reason="training given before the test"):
            TrainingRecord.objects.bulk_create(records)


# Each persona: attribute, username, role, and whether they hold a signing role that needs training.
PERSONAS: tuple[tuple[str, str, Role, bool], ...] = (
    ("operator", "operator", Role.OPERATOR, True),
    ("verifier", "verifier", Role.VERIFIER, True),
    ("qc_analyst", "qc_analyst", Role.QC_ANALYST, True),
    ("qa", "qa_reviewer", Role.QA_REVIEWER, True),
    ("qp", "qualified_person", Role.QUALIFIED_PERSON, True),
    ("clinician", "clinician", Role.CLINICIAN, True),
    # Not the medical director, the auditor, the admin nor the materials keeper: they hold no signing role.
    ("medical_director", "medical_director", Role.MEDICAL_DIRECTOR, False),
    # Reviews QC results: a verifier independent of the batch's production.
    ("qc_reviewer", "qc_reviewer", Role.VERIFIER, True),
    ("auditor", "auditor", Role.AUDITOR, False),
    ("admin", "admin", Role.ADMIN, False),
    ("materials", "materials", Role.MATERIALS, False),
)


class Personas:
    """One user per role, as in docs/domain.md §Who does what (created on demand in a test database), each
    currently trained on every SOP of the register (given to all of them at once).

    Usually they are there already: each test process builds them once (tests/baseline.py); then they are
    read in two queries, as long as every one of them still holds their role."""

    operator: User
    verifier: User
    qc_analyst: User
    qa: User
    qp: User
    clinician: User
    medical_director: User
    qc_reviewer: User
    auditor: User
    admin: User
    materials: User

    def __init__(self) -> None:
        found = _built_personas()
        if found is None:
            found = {}
            for attribute, username, role, _ in PERSONAS:
                extra = {"is_superuser": True} if role == Role.ADMIN else {}
                found[attribute] = _account(username, role, **extra)
            give_current_training(*(found[attribute] for attribute, _, _, trained in PERSONAS if trained))
        for attribute, user in found.items():
            setattr(self, attribute, user)


def _built_personas() -> dict[str, User] | None:
    """The personas as built before (by tests/baseline.py or earlier in the test), or None if any is
    missing or no longer holds their role (then they are built, or mended, one by one)."""
    by_name = {user.username: user for user in User.objects.filter(username__in=[name for _, name, _, _ in PERSONAS])}
    held = set(
        User.groups.through.objects.filter(user__in=by_name.values()).values_list("user__username", "group__name")
    )
    found = {}
    for attribute, username, role, _ in PERSONAS:
        if username not in by_name or (username, str(role)) not in held:
            return None
        found[attribute] = by_name[username]
    return found


def cast(people: Personas) -> Cast:
    return Cast(
        operator=people.operator,
        verifier=people.verifier,
        qa=people.qa,
        qp=people.qp,
        password=PASSWORD,
        materials=people.materials,
    )


def approved_definition(qa: User, qp: User, **overrides: Any) -> ProcessDefinition:
    """An approved definition whose steps need the demo register's materials and equipment (scanned at each step)."""
    keeper = make_user("materials", Role.MATERIALS)
    return demo.approved_definition(
        Cast(operator=qa, verifier=qp, qa=qa, qp=qp, password=PASSWORD, materials=keeper), **overrides
    )


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


def scans(people: Personas, batch: Batch, kind: str, values: dict[str, Any]) -> dict[str, list[str]]:
    """The lots and equipment an operator scans for this step (a usable one of each the definition requires)."""
    from batches import register_demo
    from batches.services.steps import step_window

    return register_demo.step_scans(cast(people), batch, kind, step_window(kind, values))


def with_scans(people: Personas, batch: Batch, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A step's values with the scans an operator makes for it (``lots`` and ``equipment``)."""
    return {**values, **scans(people, batch, kind, values)}


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
    """A sample of the formulated product, drawn five minutes after the selection ended (no volume drawn off)."""
    return qc_demo.qc_sample(people.qc_analyst, batch, volume_ml=Decimal(0), code=code or "")


def record_result(
    people: Personas, batch: Batch, test: str, value: Any, unit: str = "", *, review: bool = True, **kw: Any
):
    """Record (and by default review) one result on a fresh sample; returns the result."""
    from qc.services.testing import qc_result_record, qc_result_review

    sample = kw.pop("sample", None) or qc_sample(people, batch)
    if test == "sterility":  # a negative culture read before day 14 is preliminary (qc_demo.PRELIMINARY_STERILITY)
        kw.setdefault("preliminary_reason", qc_demo.PRELIMINARY_STERILITY)
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
            qc_result_review(reviewer=people.qc_reviewer, result_id=each.pk, password=PASSWORD)
    return result


def crew(people: Personas) -> qc_demo.Crew:
    """The demo crew of these personas (QC and release need no second clinician)."""
    return qc_demo.Crew(
        cast=cast(people),
        analyst=people.qc_analyst,
        clinician=people.clinician,
        second_clinician=people.clinician,
        medical_director=people.medical_director,
        qc_reviewer=people.qc_reviewer,
    )


def record_passing_qc(people: Personas, batch: Batch, *, skip: tuple[str, ...] = ("sterility",)) -> None:
    """Record and review passing results for every test except ``skip`` (sterility: pending by default)."""
    qc_demo.record_qc(crew(people), batch, {k: v for k, v in PASSING_RESULTS.items() if k not in skip})


def release_batch(people: Personas, batch: Batch, *, conditionally: bool = False, certify: bool = True) -> Batch:
    """Record passing QC and release the batch (QA), then certify it (QP) when the definition requires it."""
    return qc_demo.release_batch(crew(people), batch, conditionally=conditionally, certify=certify)


def selection_with_an_expired_reagent() -> dict[str, Any]:
    """A selection's values, its CD133 reagent lot typed as expired the day before the run ends."""
    values = selection_values()
    values["reagent_expiry"] = timezone.localdate(values["ended_at"]) - timedelta(days=1)
    return values


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

"""Demo and test data for people: personal identities, the demo SOP register, the procedure behind each
activity of a process definition, and the demo users' training (through the real services)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from batches.audit import audit_context
from batches.models import ApprovalStatus, DocumentVersion, PersonalIdentity, ProcessDefinition, TrainingRecord
from batches.models.training import ProcedureActivity, TrainingMethod
from batches.services import training

A = ProcedureActivity


@dataclass(frozen=True)
class DemoProcedure:
    number: str
    title: str
    activities: tuple[ProcedureActivity, ...]
    supervised_practices: int = 0


DEMO_PROCEDURES = (
    DemoProcedure("SOP-MFG-001", "G-CSF mobilization and apheresis collection records", (A.GCSF, A.APHERESIS)),
    DemoProcedure("SOP-MFG-002", "CD133+ selection on the CliniMACS Plus", (A.SELECTION,), supervised_practices=3),
    DemoProcedure("SOP-QC-001", "QC sampling, testing and result review", (A.QC_TESTING, A.QC_REVIEW)),
    DemoProcedure("SOP-QA-001", "Batch record review, release and QP certification", (A.DISPOSITION, A.CERTIFICATION)),
    DemoProcedure(
        "SOP-CLI-001", "Dispatch, bedside identity check and infusion", (A.DELIVERY, A.BEDSIDE_CHECK, A.INFUSION)
    ),
)
# The register was approved on paper long before the system: its versions have been in force for two years.
IN_FORCE_SINCE_DAYS = 730
RETRAINING_DAYS = 365


def identity_give(user: User, *, employee_number: str, full_name: str = "", email: str = "") -> PersonalIdentity:
    """Give a demo or test account its person (before any signing role is granted to it)."""
    with audit_context("system:demo", reason="personal identity of a demo account"):
        identity, _ = PersonalIdentity.objects.update_or_create(
            user=user,
            defaults={
                "full_name": full_name or user.get_full_name() or user.username.title(),
                "employee_number": employee_number,
                "email": email or user.email or f"{user.username}@example.org",
            },
        )
    return identity


def demo_file(procedure: DemoProcedure, version: int) -> bytes:
    return f"%PDF-1.4\n% {procedure.number} v{version}: {procedure.title}\n".encode()


def register_terms(procedure: DemoProcedure) -> dict[str, Any]:
    """The terms of version 1 of a demo SOP: in force for two years, a month's grace, yearly retraining."""
    return {
        "effective_from": timezone.localdate() - timedelta(days=IN_FORCE_SINCE_DAYS),
        "grace_days": 30,
        "retraining_interval_days": RETRAINING_DAYS,
        "supervised_practices_required": procedure.supervised_practices,
    }


def register_versions() -> dict[str, DocumentVersion]:
    """The approved version 1 of each demo SOP found in the register, by document number (one query)."""
    numbers = [procedure.number for procedure in DEMO_PROCEDURES]
    found = DocumentVersion.objects.filter(
        document__number__in=numbers, version=1, status=ApprovalStatus.APPROVED
    ).select_related("document")
    return {version.document.number: version for version in found}


def register_ensure(*, qa: User, qp: User, password: str) -> dict[str, DocumentVersion]:
    """The demo SOP register (version 1 of each, approved by QA and the QP), created when missing."""
    found = register_versions()
    for procedure in DEMO_PROCEDURES:
        if procedure.number in found:
            continue
        draft = training.document_version_create(
            actor=qa,
            number=procedure.number,
            title=procedure.title,
            file_name=f"{procedure.number}-v1.pdf",
            content=demo_file(procedure, 1),
            **register_terms(procedure),
        )
        training.document_version_approve(version_id=draft.pk, approver=qa, password=password)
        found[procedure.number] = training.document_version_approve(version_id=draft.pk, approver=qp, password=password)
    return {procedure.number: found[procedure.number] for procedure in DEMO_PROCEDURES}


def procedures_assign(*, qa: User, qp: User, password: str, definition: ProcessDefinition) -> None:
    """Name the demo SOP behind every activity of a draft process definition."""
    register = register_ensure(qa=qa, qp=qp, password=password)
    versions = {str(activity): register[p.number].pk for p in DEMO_PROCEDURES for activity in p.activities}
    training.procedures_assign(actor=qa, definition_id=definition.pk, versions=versions)


def train(
    *, trainer: User, trainee: User, version: DocumentVersion, password: str, on: date | None = None
) -> list[TrainingRecord]:
    """Train ``trainee`` on ``version`` (read, and the supervised practices it asks for), both signing."""
    on = on or timezone.localdate()
    methods = [TrainingMethod.READ] + [TrainingMethod.SUPERVISED] * version.supervised_practices_required
    records = []
    for method in methods:
        record = training.training_record(
            trainer=trainer,
            trainee_id=trainee.pk,
            document_version_id=version.pk,
            trained_on=on,
            method=method,
            assessment="Written questionnaire passed." if method == TrainingMethod.READ else "Observed: competent.",
            passed=True,
            password=password,
        )
        records.append(training.training_acknowledge(trainee=trainee, record_id=record.pk, password=password))
    return records


# Which demo SOPs each demo user works to (the matrix shows the rest as not needed, i.e. not trained).
DEMO_TRAINING: dict[str, tuple[str, ...]] = {
    "operator": ("SOP-MFG-001", "SOP-MFG-002", "SOP-QC-001", "SOP-CLI-001"),
    "verifier": ("SOP-MFG-001", "SOP-MFG-002", "SOP-QC-001"),
    "qc_analyst": ("SOP-QC-001",),
    "qa_reviewer": ("SOP-QA-001",),
    "qualified_person": ("SOP-QA-001",),
    "clinician": ("SOP-CLI-001",),
    "clinician2": ("SOP-CLI-001",),
    # Reviews QC results, independent of production; authorises conditional releases.
    "qc_reviewer": ("SOP-QC-001",),
    "medical_director": ("SOP-QA-001",),
}
# The QC analyst once helped with apheresis records; that training lapsed (retraining overdue).
LAPSED = ("qc_analyst", "SOP-MFG-001")
# A new version of the QC procedure, approved now and in force in three weeks.
FUTURE = ("SOP-QC-001", 21)


def seed(users: dict[str, User], *, qa: User, qp: User, password: str) -> None:
    """Demo identities' training: current training by role, one lapsed training, one SOP version to come."""
    register = register_ensure(qa=qa, qp=qp, password=password)
    for username, numbers in DEMO_TRAINING.items():
        user = users[username]
        if TrainingRecord.objects.filter(trainee=user).exists():
            continue
        trainer = qp if user.pk == qa.pk else qa
        for number in numbers:
            train(trainer=trainer, trainee=user, version=register[number], password=password)
    username, number = LAPSED
    lapsed_on = timezone.localdate() - timedelta(days=RETRAINING_DAYS + 40)
    if not TrainingRecord.objects.filter(trainee=users[username], document_version=register[number]).exists():
        train(
            trainer=users["operator"],
            trainee=users[username],
            version=register[number],
            password=password,
            on=lapsed_on,
        )
    number, days = FUTURE
    current = register[number]
    if not DocumentVersion.objects.filter(document=current.document, version__gt=current.version).exists():
        draft = training.document_version_create(
            actor=qa,
            number=number,
            title=current.document.title,
            file_name=f"{number}-v2.pdf",
            content=f"%PDF-1.4\n% {number} v2\n".encode(),
            effective_from=timezone.localdate() + timedelta(days=days),
            grace_days=14,
            retraining_interval_days=RETRAINING_DAYS,
            change_summary="Endotoxin sampling moved before formulation; new sample labels.",
        )
        training.document_version_approve(version_id=draft.pk, approver=qa, password=password)
        training.document_version_approve(version_id=draft.pk, approver=qp, password=password)

"""Controlled documents, the procedure behind each activity, training records, and the training gate.

Every service that records, verifies, tests, reviews, releases, certifies or checks at the bedside calls
``training_require`` once, after its role check, with the activity it carries out: the work is refused
unless the person is currently trained on the procedure version the batch's process definition names for
it (rules in batches.competence). A refusal writes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from batches import limits
from batches.audit import audit_context
from batches.competence import named_procedure, standing, version_in_force
from batches.models import ApprovalStatus, ProcessDefinition
from batches.models.signatures import SignatureMeaning
from batches.models.training import (
    ControlledDocument,
    DocumentKind,
    DocumentVersion,
    ProcedureActivity,
    StepProcedure,
    TrainingMethod,
    TrainingRecord,
)
from batches.roles import Domain, Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign

DOCUMENT_CONTROL_ROLES = (Role.QA_REVIEWER,)
APPROVER_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON)
MAX_FILE_BYTES = 20 * 1024 * 1024


def training_require(
    actor: User, definition: ProcessDefinition, activity: str, *, performing: bool = True
) -> DocumentVersion:
    """The gate: the procedure version ``actor`` follows for ``activity``, or PermissionDenied naming it.

    ``performing`` is False for verifying and reviewing: supervised-practice qualification is asked of
    the person who does the work alone, not of the second person.
    """
    what = ProcedureActivity(activity).label
    named = named_procedure(definition, activity)
    if named is None:
        raise PermissionDenied(
            f"{definition} names no controlled procedure for {what.lower()}; nobody can be trained for it. "
            "QA must name the procedure in a new version of the process definition."
        )
    today = timezone.localdate()
    version = version_in_force(named, today)
    if version is None:
        raise PermissionDenied(
            f"{named.document.number} v{named.version} ({named.document.title}), the procedure for "
            f"{what.lower()}, is not in force before {named.effective_from}."
        )
    found = standing(actor, version, on=today, performing=performing)
    if not found.counts:
        raise PermissionDenied(
            f"{what} requires current training on {version.document.number} v{version.version} "
            f"({version.document.title}): {found.detail}."
        )
    return version


@transaction.atomic
def document_version_create(
    *,
    actor: User,
    number: str,
    title: str,
    file_name: str,
    content: bytes,
    effective_from: date,
    kind: str = DocumentKind.SOP,
    grace_days: int = 0,
    retraining_interval_days: int | None = None,
    supervised_practices_required: int = 0,
    change_summary: str = "",
) -> DocumentVersion:
    """Draft the next version of a controlled document (a new document on its first version) with its file."""
    require_role(actor, *DOCUMENT_CONTROL_ROLES, action="Drafting a controlled document", domain=Domain.MASTER_DATA)
    number = number.strip().upper()
    if not number or not title.strip():
        raise ValidationError({"number": gettext("A controlled document needs a number and a title.")})
    if not content:
        raise ValidationError({"content": gettext("The document file is empty.")})
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError(
            {
                "content": gettext("The document file is larger than %(max_file_bytes)s MB.")
                % {"max_file_bytes": MAX_FILE_BYTES // (1024 * 1024)}
            }
        )
    with audit_context(actor, reason=f"draft controlled document {number}"):
        document, _ = ControlledDocument.objects.get_or_create(
            number=number, defaults={"title": title.strip(), "kind": kind}
        )
        latest = document.versions.aggregate(v=Max("version"))["v"] or 0
        previous = document.versions.filter(version=latest).first()
        if previous is not None and previous.status == ApprovalStatus.DRAFT:
            raise ValidationError(
                gettext("%(previous)s is still a draft; approve it before drafting another version.")
                % {"previous": previous}
            )
        if previous is not None and effective_from <= previous.effective_from:
            raise ValidationError(
                {"effective_from": f"{previous} is effective from {previous.effective_from}; the next starts later."}
            )
        if document.title != title.strip():
            document.title = title.strip()
            document.save(update_fields=["title"])
        name = (file_name or "document.pdf").strip().replace("/", "_")[:120]
        path = default_storage.save(f"controlled-documents/{number}/v{latest + 1}/{name}", ContentFile(content))
        version = DocumentVersion(
            document=document,
            version=latest + 1,
            change_summary=change_summary.strip(),
            file_name=name,
            storage_path=path,
            sha256=hashlib.sha256(content).hexdigest(),
            size_bytes=len(content),
            effective_from=effective_from,
            grace_days=grace_days,
            retraining_interval_days=retraining_interval_days,
            supervised_practices_required=supervised_practices_required,
            created_by=actor,
        )
        version.full_clean()
        version.save()
    return version


@transaction.atomic
def document_version_approve(*, version_id: int, approver: User, password: str, otp_token: str = "") -> DocumentVersion:
    """One of the two approvals; the second, by a different person, approves the version for its effective date."""
    require_role(approver, *APPROVER_ROLES, action="Approving a controlled document", domain=Domain.MASTER_DATA)
    confirm_password(approver, password, otp_token=otp_token)
    version = DocumentVersion.objects.select_for_update().select_related("document").get(pk=version_id)
    if version.status != ApprovalStatus.DRAFT:
        raise ValidationError(f"{version} is already {version.get_status_display().lower()}.")
    now = timezone.now()
    with audit_context(approver, reason=f"approve {version}"):
        if version.first_approved_by_id is None:
            version.first_approved_by, version.first_approved_at = approver, now
        elif version.first_approved_by_id == approver.pk:
            raise PermissionDenied(
                gettext("%(version)s needs a second approval by a different person.") % {"version": version}
            )
        else:
            version.second_approved_by, version.second_approved_at = approver, now
            version.status = ApprovalStatus.APPROVED
            DocumentVersion.objects.filter(
                document=version.document, status=ApprovalStatus.APPROVED, version__lt=version.version
            ).update(superseded_on=version.effective_from)
        version.save()
    signature_sign(
        signer=approver, password=password, password_checked=True, meaning=SignatureMeaning.APPROVED, target=version
    )
    return version


def procedure_assign(*, actor: User, definition_id: int, activity: str, document_version_id: int) -> StepProcedure:
    """Name the procedure a draft process definition follows for ``activity`` (approval freezes it)."""
    return procedures_assign(actor=actor, definition_id=definition_id, versions={activity: document_version_id})[0]


@transaction.atomic
def procedures_assign(*, actor: User, definition_id: int, versions: dict[str, int]) -> list[StepProcedure]:
    """Name the procedures a draft process definition follows, ``versions`` mapping activity to document
    version, in one act: all are named or, on the first refusal, none."""
    require_role(actor, *DOCUMENT_CONTROL_ROLES, action="Naming a step's procedure", domain=Domain.MASTER_DATA)
    definition = ProcessDefinition.objects.select_for_update().get(pk=definition_id)
    if definition.status != ApprovalStatus.DRAFT:
        raise ValidationError(f"{definition} is {definition.get_status_display().lower()}; draft a new version.")
    for activity in versions:
        if activity not in ProcedureActivity.values:
            raise ValidationError({"activity": f"Unknown activity {activity!r}."})
    found = DocumentVersion.objects.select_related("document").in_bulk(set(versions.values()))
    for version_id in versions.values():
        version = found.get(version_id)
        if version is None:
            raise DocumentVersion.DoesNotExist(f"No document version #{version_id}.")
        if version.status != ApprovalStatus.APPROVED:
            raise ValidationError({"document_version": f"{version} is not approved."})
    named = ", ".join(f"{ProcedureActivity(a).label.lower()} follows {found[v]}" for a, v in versions.items())
    with audit_context(actor, reason=f"{definition}: {named}"[: limits.REASON]):
        procedures = StepProcedure.objects.bulk_create(
            [StepProcedure(definition=definition, activity=a, document_version=found[v]) for a, v in versions.items()],
            update_conflicts=True,
            unique_fields=["definition", "activity"],
            update_fields=["document_version"],
        )
    return procedures


@transaction.atomic
def training_record(
    *,
    trainer: User,
    trainee_id: int,
    document_version_id: int,
    trained_on: date,
    method: str,
    assessment: str,
    passed: bool,
    password: str,
    otp_token: str = "",
) -> TrainingRecord:
    """The trainer records and signs a training; it counts once the trainee signs it too."""
    require_role(
        trainer,
        *APPROVER_ROLES,
        Role.OPERATOR,
        Role.QC_ANALYST,
        Role.VERIFIER,
        Role.CLINICIAN,
        action="Recording a training",
    )
    confirm_password(trainer, password, otp_token=otp_token)
    trainee = User.objects.get(pk=trainee_id)
    if trainee.pk == trainer.pk:
        raise PermissionDenied(gettext("You cannot record your own training; the trainer is someone else."))
    version = DocumentVersion.objects.select_related("document").get(pk=document_version_id)
    if version.status == ApprovalStatus.DRAFT:
        raise ValidationError(
            {
                "document_version": gettext("%(version)s is a draft; nobody is trained on a draft.")
                % {"version": version}
            }
        )
    if trained_on > timezone.localdate():
        raise ValidationError({"trained_on": gettext("The training date cannot be in the future.")})
    if method not in TrainingMethod.values:
        raise ValidationError({"method": gettext("Unknown training method %(method)s.") % {"method": f"{method!r}"}})
    if not assessment.strip():
        raise ValidationError({"assessment": gettext("Describe how understanding or competence was assessed.")})
    interval = version.retraining_interval_days
    with audit_context(trainer, reason=f"training of {trainee.username} on {version}"):
        record = TrainingRecord(
            trainee=trainee,
            document_version=version,
            trainer=trainer,
            trained_on=trained_on,
            method=method,
            assessment=assessment.strip(),
            passed=passed,
            valid_until=trained_on + timedelta(days=interval) if interval else None,
            trainer_signed_at=timezone.now(),
        )
        record.full_clean()
        record.save()
    signature_sign(
        signer=trainer, password=password, password_checked=True, meaning=SignatureMeaning.TRAINER, target=record
    )
    return record


@transaction.atomic
def training_acknowledge(*, trainee: User, record_id: int, password: str, otp_token: str = "") -> TrainingRecord:
    """The trainee signs their training record (read, understood, assessed); from now it counts."""
    confirm_password(trainee, password, otp_token=otp_token)
    record = TrainingRecord.objects.select_for_update().select_related("document_version").get(pk=record_id)
    if record.trainee_id != trainee.pk:
        raise PermissionDenied(gettext("Only the trainee signs their own training record."))
    if record.is_signed:
        raise ValidationError(gettext("Training record #%(pk)s is already signed by its trainee.") % {"pk": record.pk})
    with audit_context(trainee, reason=f"trainee signs training on {record.document_version}"):
        record.trainee_signed_at = timezone.now()
        record.save(update_fields=["trainee_signed_at"])
    signature_sign(
        signer=trainee, password=password, password_checked=True, meaning=SignatureMeaning.TRAINED, target=record
    )
    return record

"""Batch-record models (docs/domain.md §The process, step by step); business rules live in batches.services."""

from batches.models.batch import Batch, BatchTransition
from batches.models.custody import CustodyEvent, ExpiredUseAuthorization, IdentityScan, PatientIdentity
from batches.models.delivery import AdverseEvent, BedsideCheck, Infusion
from batches.models.documents import BatchDocument, DocumentDownload, DocumentKind, DocumentStatus
from batches.models.equipment import Equipment, EquipmentKind, EquipmentStatus
from batches.models.followup import EmbryoTransfer, FollowUpVisit
from batches.models.idempotency import IdempotencyKey
from batches.models.ledger import AuditCheckpoint, AuditSeal, AuditVerification, VerificationMode
from batches.models.master import ApprovalStatus, ProcessDefinition
from batches.models.patient import Patient
from batches.models.release import BatchDisposition, Decision
from batches.models.signatures import ElectronicSignature, SignatureManifest, SignatureMeaning, SignatureStatus
from batches.models.steps import ApheresisCollection, Cd133Selection, GcsfAdministration, StepRecord

__all__ = [
    "AdverseEvent",
    "ApheresisCollection",
    "ApprovalStatus",
    "AuditCheckpoint",
    "AuditSeal",
    "AuditVerification",
    "Batch",
    "BatchDisposition",
    "BatchDocument",
    "BatchTransition",
    "BedsideCheck",
    "Cd133Selection",
    "CustodyEvent",
    "Decision",
    "DocumentDownload",
    "DocumentKind",
    "DocumentStatus",
    "ElectronicSignature",
    "EmbryoTransfer",
    "Equipment",
    "EquipmentKind",
    "EquipmentStatus",
    "ExpiredUseAuthorization",
    "FollowUpVisit",
    "GcsfAdministration",
    "IdempotencyKey",
    "IdentityScan",
    "Infusion",
    "Patient",
    "PatientIdentity",
    "ProcessDefinition",
    "SignatureManifest",
    "SignatureMeaning",
    "SignatureStatus",
    "StepRecord",
    "VerificationMode",
]
from batches.models.access import AccessEvent, AccessEventKind, AccessOutcome, UserAccount  # noqa: F401
from batches.models.accounts import AccountState, ApiToken, UserRoleGrant  # noqa: F401

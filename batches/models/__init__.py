"""Batch-record models (DOMAIN.md §2); business rules live in batches.services."""

from batches.models.batch import Batch, BatchTransition
from batches.models.ledger import AuditCheckpoint, AuditSeal
from batches.models.master import ApprovalStatus, ProcessDefinition
from batches.models.patient import Patient
from batches.models.signatures import ElectronicSignature, SignatureMeaning, SignatureStatus
from batches.models.steps import ApheresisCollection, Cd133Selection, GcsfAdministration, StepRecord

__all__ = [
    "ApheresisCollection",
    "ApprovalStatus",
    "AuditCheckpoint",
    "AuditSeal",
    "Batch",
    "BatchTransition",
    "Cd133Selection",
    "ElectronicSignature",
    "GcsfAdministration",
    "Patient",
    "ProcessDefinition",
    "SignatureMeaning",
    "SignatureStatus",
    "StepRecord",
]

"""Batch-record models (DOMAIN.md §2); business rules live in batches.services."""

from batches.models.batch import Batch, BatchTransition
from batches.models.master import ApprovalStatus, ProcessDefinition
from batches.models.patient import Patient
from batches.models.signatures import ElectronicSignature, SignatureMeaning, SignatureStatus
from batches.models.steps import ApheresisCollection, Cd133Selection, GcsfAdministration, StepRecord
from batches.models.custody import CustodyEvent, ExpiredUseAuthorization, IdentityScan, PatientIdentity  # noqa: I001
from batches.models.delivery import AdverseEvent, BedsideCheck, Infusion
from batches.models.followup import EmbryoTransfer, FollowUpVisit

__all__ = [
    "AdverseEvent",
    "BedsideCheck",
    "CustodyEvent",
    "EmbryoTransfer",
    "ExpiredUseAuthorization",
    "FollowUpVisit",
    "IdentityScan",
    "Infusion",
    "PatientIdentity",
    "ApheresisCollection",
    "ApprovalStatus",
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

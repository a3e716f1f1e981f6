"""Batch-record models (docs/domain.md §The process, step by step); business rules live in batches.services."""

from batches.models.batch import Batch, BatchTransition
from batches.models.custody import CustodyEvent, ExpiredUseAuthorization, IdentityScan, PatientIdentity, ScanEntry
from batches.models.delivery import AdverseEvent, BedsideCheck, Infusion
from batches.models.documents import BatchDocument, DocumentDownload, DocumentKind, DocumentStatus
from batches.models.equipment import AreaGrade, Equipment, EquipmentKind, EquipmentStatus
from batches.models.equipment_log import (
    EquipmentRecord,
    EquipmentUse,
    RecordKind,
    RecordOutcome,
    StepEquipmentRequirement,
)
from batches.models.exceptions import ExceptionKind, RecordException
from batches.models.followup import EmbryoTransfer, FollowUpVisit
from batches.models.idempotency import IdempotencyKey
from batches.models.imports import ImportStatus, PatientImport, PatientImportRow, RowOutcome
from batches.models.integrity import FindingKind, IntegrityFinding, SchemaChange
from batches.models.labelling import (
    FinalContainer,
    Label,
    LabelBag,
    LabelFormat,
    LabelPrint,
    LabelReconciliation,
    LabelStatus,
)
from batches.models.ledger import AuditCheckpoint, AuditSeal, AuditVerification, SealProgress, VerificationMode
from batches.models.master import ApprovalStatus, ProcessDefinition
from batches.models.materials import (
    GRADE_RANK,
    LotCertificate,
    LotStatus,
    LotUse,
    Material,
    MaterialGrade,
    MaterialLot,
    StepMaterialRequirement,
)
from batches.models.patient import Patient
from batches.models.people import AccessReview, EntrySource, PersonalIdentity
from batches.models.release import BatchDisposition, Decision, FollowUpStatus, ReleaseFollowUp
from batches.models.shipping import (
    EscalationLevel,
    LoggerFileWaiver,
    ShipmentTemperatureLog,
    StorageExcursion,
    StorageMonitor,
    StorageReading,
    TemperatureLoggerModel,
)
from batches.models.signatures import ElectronicSignature, SignatureManifest, SignatureMeaning, SignatureStatus
from batches.models.steps import ApheresisCollection, Cd133Selection, GcsfAdministration, StepRecord
from batches.models.training import (
    ControlledDocument,
    DocumentVersion,
    ProcedureActivity,
    StepProcedure,
    TrainingMethod,
    TrainingRecord,
)
from batches.models.trial import ClinicalTrial
from batches.models.workstations import (
    LineClearance,
    MonitoringLevel,
    MonitoringLimit,
    MonitoringSample,
    MonitoringSession,
    SampleKind,
)

__all__ = [
    "GRADE_RANK",
    "AccessReview",
    "AdverseEvent",
    "ApheresisCollection",
    "ApprovalStatus",
    "AreaGrade",
    "AuditCheckpoint",
    "AuditSeal",
    "AuditVerification",
    "Batch",
    "BatchDisposition",
    "BatchDocument",
    "BatchTransition",
    "BedsideCheck",
    "Cd133Selection",
    "ClinicalTrial",
    "ControlledDocument",
    "CustodyEvent",
    "Decision",
    "DocumentDownload",
    "DocumentKind",
    "DocumentStatus",
    "DocumentVersion",
    "ElectronicSignature",
    "EmbryoTransfer",
    "EntrySource",
    "Equipment",
    "EquipmentKind",
    "EquipmentRecord",
    "EquipmentStatus",
    "EquipmentUse",
    "EscalationLevel",
    "ExceptionKind",
    "ExpiredUseAuthorization",
    "FinalContainer",
    "FindingKind",
    "FollowUpStatus",
    "FollowUpVisit",
    "GcsfAdministration",
    "IdempotencyKey",
    "IdentityScan",
    "ImportStatus",
    "Infusion",
    "IntegrityFinding",
    "Label",
    "LabelBag",
    "LabelFormat",
    "LabelPrint",
    "LabelReconciliation",
    "LabelStatus",
    "LineClearance",
    "LoggerFileWaiver",
    "LotCertificate",
    "LotStatus",
    "LotUse",
    "Material",
    "MaterialGrade",
    "MaterialLot",
    "MonitoringLevel",
    "MonitoringLimit",
    "MonitoringSample",
    "MonitoringSession",
    "Patient",
    "PatientIdentity",
    "PatientImport",
    "PatientImportRow",
    "PersonalIdentity",
    "ProcedureActivity",
    "ProcessDefinition",
    "RecordException",
    "RecordKind",
    "RecordOutcome",
    "ReleaseFollowUp",
    "RowOutcome",
    "SampleKind",
    "ScanEntry",
    "SchemaChange",
    "SealProgress",
    "ShipmentTemperatureLog",
    "SignatureManifest",
    "SignatureMeaning",
    "SignatureStatus",
    "StepEquipmentRequirement",
    "StepMaterialRequirement",
    "StepProcedure",
    "StepRecord",
    "StorageExcursion",
    "StorageMonitor",
    "StorageReading",
    "TemperatureLoggerModel",
    "TrainingMethod",
    "TrainingRecord",
    "VerificationMode",
]
from batches.models.access import AccessEvent, AccessEventKind, AccessOutcome, UserAccount  # noqa: F401
from batches.models.accounts import AccountState, ApiToken, UserRoleGrant  # noqa: F401

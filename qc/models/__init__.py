"""QC models: specifications, samples, results, deviations, notifications."""

from qc.models.deviations import (
    BLOCKING_CLASSIFICATIONS,
    Classification,
    Deviation,
    DeviationKind,
    DeviationReclassification,
    DeviationStatus,
)
from qc.models.investigations import (
    InvestigationStatus,
    OosInvestigation,
    OosPhase,
    OosRetestApproval,
    PlanKind,
    ReportabilityAssessment,
    ReportabilityStatus,
)
from qc.models.notifications import Notification, NotificationAttempt, NotificationStatus
from qc.models.specification import Specification, SpecificationLimit
from qc.models.testing import QcResult, QcSample, SampleStep

__all__ = [
    "BLOCKING_CLASSIFICATIONS",
    "Classification",
    "Deviation",
    "DeviationKind",
    "DeviationReclassification",
    "DeviationStatus",
    "InvestigationStatus",
    "Notification",
    "NotificationAttempt",
    "NotificationStatus",
    "OosInvestigation",
    "OosPhase",
    "OosRetestApproval",
    "PlanKind",
    "QcResult",
    "QcSample",
    "ReportabilityAssessment",
    "ReportabilityStatus",
    "SampleStep",
    "Specification",
    "SpecificationLimit",
]

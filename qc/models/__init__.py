"""QC models: specifications, samples, results, deviations, notifications."""

from qc.models.deviations import (
    BLOCKING_CLASSIFICATIONS,
    Classification,
    Deviation,
    DeviationKind,
    DeviationStatus,
)
from qc.models.notifications import Notification, NotificationAttempt, NotificationStatus
from qc.models.specification import Specification, SpecificationLimit
from qc.models.testing import QcResult, QcSample, SampleStep

__all__ = [
    "BLOCKING_CLASSIFICATIONS",
    "Classification",
    "Deviation",
    "DeviationKind",
    "DeviationStatus",
    "Notification",
    "NotificationAttempt",
    "NotificationStatus",
    "QcResult",
    "QcSample",
    "SampleStep",
    "Specification",
    "SpecificationLimit",
]

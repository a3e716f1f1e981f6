"""QC admin: samples and results, deviations, specifications (the QA review is qc.views.review)."""

from qc.admin import deviations, investigations, specifications, testing

__all__ = ["deviations", "investigations", "specifications", "testing"]

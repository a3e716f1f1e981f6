"""QC admin: entry pages, deviations, specifications and the QA review page."""

from qc.admin import deviations, review, specifications, testing

__all__ = ["deviations", "review", "specifications", "testing"]

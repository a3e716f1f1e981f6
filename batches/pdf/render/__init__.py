"""Draw the batch record PDF from a snapshot with ReportLab (no database access here).

One module per part of the record: ``cover`` (cover page, process definition), ``steps``,
``quality`` (QC, deviations, release), ``custody`` (custody, delivery, infusion, adverse events),
``signatures`` (signatures, status history), ``audit`` (audit-trail appendix); ``layout`` holds the
shared styles, cells and tables, ``codes`` what the record decides by (never a label), and
``document`` the page furniture and the build.
"""

from __future__ import annotations

from batches.pdf.render.document import render
from batches.pdf.render.layout import KIND_TITLES

__all__ = ["KIND_TITLES", "render"]

"""The QA review queue: a window onto batches in the admin (/admin/qc/review/<batch id>/)."""

from __future__ import annotations

from batches.models import Batch


class Review(Batch):
    class Meta:
        proxy = True
        verbose_name = "QA review"
        verbose_name_plural = "QA reviews"

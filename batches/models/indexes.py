"""Index expressions shared by the models."""

from __future__ import annotations

from django.contrib.postgres.indexes import OpClass
from django.db.models.functions import Upper


def prefix_search(field: str) -> OpClass:
    """An index expression for case-insensitive prefix search (``istartswith``, DRF's ``^`` search).

    PostgreSQL sends ``UPPER(col::text) LIKE 'X%'``; with a non-C collation only a ``text_pattern_ops``
    index on that same expression serves it.
    """
    # UPPER of a varchar column is UPPER(col::text) to PostgreSQL: the same expression the lookup sends.
    return OpClass(Upper(field), name="text_pattern_ops")

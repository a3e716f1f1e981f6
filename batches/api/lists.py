"""The batch list at any size: cursor pages without counting the whole table, prefix search on indexes."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.db.models import Model, QuerySet
from rest_framework.filters import SearchFilter
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from batches.selectors import batches_matching

_M = TypeVar("_M", bound=Model)
_R = TypeVar("_R")


class BatchCursorPagination(CursorPagination):
    """Newest batch first; ``next``/``previous`` carry an opaque cursor instead of a page number.

    Each page is an index range scan on (registered_at, id) from the cursor's position, so the
    first and the thousandth page cost the same, and no ``count`` of every batch is made.
    """

    ordering = ("-registered_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class BatchSearchFilter(SearchFilter):
    """``?search=``: batches whose batch number or subject code starts with each term (any case)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[_M, _R], view: APIView) -> QuerySet[_M, _R]:
        batches: Any = queryset  # mounted on the batch list only
        for term in self.get_search_terms(request):
            batches = batches_matching(batches, term)
        return cast("QuerySet[_M, _R]", batches)

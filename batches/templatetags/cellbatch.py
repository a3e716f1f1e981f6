"""Template filters for GMP quantities."""

from __future__ import annotations

from decimal import Decimal

from django import template

from batches import formatting

register = template.Library()


@register.filter
def cells(count: int | Decimal | None) -> str:
    return formatting.cells(count)

"""Template filters for GMP quantities, and the one-time token of admin forms."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from batches import formatting
from batches.web import ONE_TIME_FIELD, new_form_token

register = template.Library()


@register.filter
def cells(count: int | Decimal | None) -> str:
    return formatting.cells(count)


@register.simple_tag
def one_time_token() -> SafeString:
    """A fresh hidden token per rendered form: submitting the same page twice records once (batches.web)."""
    return format_html('<input type="hidden" name="{}" value="{}">', ONE_TIME_FIELD, new_form_token())

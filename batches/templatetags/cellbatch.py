"""Template filters for times and GMP quantities (batches.formatting), and the one-time token of admin forms."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from batches import formatting
from batches.web import ONE_TIME_FIELD, new_form_token

register = template.Library()


@register.filter
def cells(count: int | Decimal | None) -> str:
    return formatting.cells(count)


@register.filter
def number(value: int | Decimal | None, places: int | None = None) -> str:
    return formatting.number(value, places)


@register.filter
def when(value: datetime | None, seconds: bool = False) -> str:
    """Local time with its zone: ``2026-05-04 11:12 CEST`` (``|when:True`` adds seconds)."""
    return formatting.moment(value, seconds=seconds)


@register.filter
def when_both(value: datetime | None) -> str:
    """Local time and UTC, where the record needs both: ``2026-05-04 11:12:03 CEST (09:12:03 UTC)``."""
    return formatting.moment_both(value)


@register.filter
def when_utc(value: datetime | None) -> str:
    return formatting.moment_utc(value)


@register.filter
def day(value: date | datetime | None) -> str:
    return formatting.day(value)


# A QC verdict's words (qc.evaluation.Verdict values), in the reader's language.
VERDICT_LABELS = {"pass": gettext_lazy("pass"), "oos": gettext_lazy("OOS"), "pending": gettext_lazy("pending")}


@register.filter
def verdict_label(verdict: str) -> str:
    return str(VERDICT_LABELS.get(str(verdict), verdict))


@register.simple_tag
def one_time_token() -> SafeString:
    """A fresh hidden token per rendered form: submitting the same page twice records once (batches.web)."""
    return format_html('<input type="hidden" name="{}" value="{}">', ONE_TIME_FIELD, new_form_token())

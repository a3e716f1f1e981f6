"""Maximum lengths of free text, in one place: models, serializers and forms all read these numbers.

Every free-text value ends up in the signed batch record, the audit trail and its exports, so none
may be unbounded: a megabyte of "notes" makes every later read, render and signature slow.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxLengthValidator
from django.db import models

NAME = 200  # names and titles
SHORT_COMMENT = 200  # a one-line comment
REASON = 2000  # why: corrections, cancellations, late entries, decisions, authorizations
NOTES = 2000  # free notes on a record
DESCRIPTION = 2000  # what happened (deviations, plans)
NARRATIVE = 4000  # investigation, root cause, impact, CAPA and closure of a deviation
LIMITS_DOCUMENT = 20_000  # the limits of a process definition (JSON: ranges, order of events, durations)
PASSWORD = 256  # a re-entered password or passphrase (hashing a longer one buys nothing)

# The ranges of PostgreSQL's integer columns, for plain form and serializer fields that feed them.
SMALLINT_MAX = 32_767
BIGINT_MAX = 9_223_372_036_854_775_807


class BoundedTextField(models.TextField):
    """A multi-line text column whose max_length is also checked by full_clean().

    Django honours a TextField's max_length in ModelForm and ModelSerializer fields only; the
    services validate with full_clean(), so the limit is added as a validator as well.
    """

    def __init__(self, *args: Any, max_length: int, **kwargs: Any) -> None:
        kwargs["max_length"] = max_length
        super().__init__(*args, **kwargs)
        self.validators.append(MaxLengthValidator(max_length))

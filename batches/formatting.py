"""The one way CellBatch shows a time, a date or a number: on screen, in the API's display strings,
in e-mails and in the signed record (decision D-i18n-1 in docs/decisions.md).

- A time is shown in the facility's zone with the zone's name: ``2026-05-04 11:12 CEST``. Where
  the record needs both (signatures, the audit trail, the record's times), UTC follows in
  brackets: ``2026-05-04 11:12:03 CEST (09:12:03 UTC)``; the UTC date is repeated only when it is
  another day. The date is always ISO 8601 (year-month-day), the clock 24-hour, in both languages.
- A number uses the language's decimal mark (``96.2`` in English, ``96,2`` in Spanish) and groups
  thousands with a narrow no-break space (``48 000``), never with a comma or a point, so that no
  reader takes a group for a decimal (SI Brochure, 5.4.4).
- A cell count is written in engineering notation with its power of ten: ``131 × 10⁶``,
  ``48 × 10⁹``; small counts stay whole numbers.

Everything here follows the active language (``django.utils.translation``): the interface
activates the user's, the record activates the language it was issued in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext

# U+202F NARROW NO-BREAK SPACE: the SI thousands separator, which never breaks a number across lines.
GROUP = "\u202f"
EMPTY = "—"
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
THOUSAND = Decimal(1000)
MILLION = Decimal(1_000_000)


def _zone(zone: tzinfo | str | None) -> tzinfo:
    if zone is None:
        return ZoneInfo(settings.TIME_ZONE)
    return ZoneInfo(zone) if isinstance(zone, str) else zone


def _as_datetime(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if timezone.is_naive(moment):
        raise ValueError(f"{moment!r} has no time zone: CellBatch stores and shows aware times only")
    return moment


def _clock(moment: datetime, seconds: bool) -> str:
    return f"{moment:%H:%M:%S}" if seconds else f"{moment:%H:%M}"


def day(value: date | datetime | str | None, *, zone: tzinfo | str | None = None) -> str:
    """``2026-05-04``; a time gives the facility's local date."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = _as_datetime(value).astimezone(_zone(zone))
        return f"{value:%Y-%m-%d}"
    return value.isoformat()


def moment(value: datetime | str | None, *, seconds: bool = False, zone: tzinfo | str | None = None) -> str:
    """``2026-05-04 11:12 CEST``: local time with its zone (``zone`` defaults to the facility's)."""
    if value is None or value == "":
        return EMPTY
    here = _as_datetime(value).astimezone(_zone(zone))
    return f"{here:%Y-%m-%d} {_clock(here, seconds)} {here.tzname()}"


def moment_utc(value: datetime | str | None, *, seconds: bool = True) -> str:
    """``2026-05-04 09:12:03 UTC``."""
    if value is None or value == "":
        return EMPTY
    utc = _as_datetime(value).astimezone(UTC)
    return f"{utc:%Y-%m-%d} {_clock(utc, seconds)} UTC"


def moment_both(value: datetime | str | None, *, seconds: bool = True, zone: tzinfo | str | None = None) -> str:
    """``2026-05-04 11:12:03 CEST (09:12:03 UTC)``; the UTC date is added when it is another day."""
    if value is None or value == "":
        return EMPTY
    here = _as_datetime(value).astimezone(_zone(zone))
    utc = here.astimezone(UTC)
    utc_text = _clock(utc, seconds) if utc.date() == here.date() else f"{utc:%Y-%m-%d} {_clock(utc, seconds)}"
    return f"{moment(here, seconds=seconds, zone=zone)} ({utc_text} UTC)"


def number(value: int | float | Decimal | str | None, places: int | None = None) -> str:
    """``48 000``, ``96.2`` (``96,2`` in Spanish): the language's decimal mark, SI digit groups.

    ``places`` fixes the number of decimals; without it a Decimal keeps its own and an integer has none.
    """
    if value is None or value == "":
        return EMPTY
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if places is not None:
        amount = amount.quantize(Decimal(1).scaleb(-places))
    sign = "−" if amount < 0 else ""
    whole, _, fraction = f"{abs(amount):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    # Four-digit numbers stay ungrouped (SI): 2026, 1500.
    digits = "".join(groups) if len(groups) == 2 and len(groups[0]) == 1 else GROUP.join(groups)
    mark = str(formats.get_format("DECIMAL_SEPARATOR"))
    return f"{sign}{digits}{mark}{fraction}" if fraction else f"{sign}{digits}"


def cells(count: int | Decimal | None) -> str:
    """``131000000`` → ``131 × 10⁶``; ``124450000`` → ``124.45 × 10⁶``; ``48000000000`` → ``48 × 10⁹``.

    Engineering notation (the power of ten a multiple of three, from 10⁶), at most two decimals;
    counts under a million are whole numbers with SI groups.
    """
    if count is None:
        return EMPTY
    value = Decimal(count)
    if abs(value) < MILLION:
        return number(value)
    exponent = 6
    while abs(value) >= MILLION * THOUSAND ** ((exponent - 6) // 3 + 1):
        exponent += 3
    mantissa = (value / Decimal(10) ** exponent).quantize(Decimal("0.01")).normalize()
    return f"{number(mantissa)} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def cells_in(count: int | Decimal | None, volume_ml: Decimal | None) -> str:
    """``131 × 10⁶ CD133+ cells in 10.0 mL`` (``10,0 mL`` in Spanish), in the active language."""
    return gettext("%(cells)s CD133+ cells in %(volume)s mL") % {"cells": cells(count), "volume": number(volume_ml)}

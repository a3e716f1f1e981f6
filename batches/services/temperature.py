"""Temperature logger files: read a CSV as its logger model lays it out, and judge it against a range.

Pure functions (no database writes): ``logger_readings`` parses, ``judge`` computes minimum, maximum and
the time spent outside the range. A reading outside the range counts until the next reading; the time
outside is the sum of those intervals, and more of it than allowed is an excursion.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from batches.models import TemperatureLoggerModel
from batches.models.shipping import LOGGER_FILE_MAX_CHARS

MAX_FILE_BYTES = LOGGER_FILE_MAX_CHARS
MAX_READINGS = 50_000

Reading = tuple[datetime, Decimal]


def _time(value: str, model: TemperatureLoggerModel, line: int) -> datetime:
    try:
        if model.time_format == "iso":
            moment = datetime.fromisoformat(value.strip())
        else:
            moment = datetime.strptime(value.strip(), model.time_format)
    except ValueError as exc:
        raise ValidationError(
            {
                "logger_file": gettext("Line %(line)s: %(value)s is not a time (%(time_format)s).")
                % {"line": line, "value": f"{value!r}", "time_format": model.time_format}
            }
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(model.time_zone))
    return moment


def _temperature(value: str, model: TemperatureLoggerModel, line: int) -> Decimal:
    text = value.strip().replace(",", ".") if model.decimal_comma else value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(
            {
                "logger_file": gettext("Line %(line)s: %(value)s is not a temperature.")
                % {"line": line, "value": f"{value!r}"}
            }
        ) from exc
    if not number.is_finite() or not Decimal("-200") <= number <= Decimal("100"):
        raise ValidationError(
            {
                "logger_file": gettext("Line %(line)s: %(value)s °C is not a plausible temperature.")
                % {"line": line, "value": f"{value!r}"}
            }
        )
    return number.quantize(Decimal("0.1"))


def logger_readings(content: bytes, model: TemperatureLoggerModel) -> list[Reading]:
    """The readings of a logger file, in time order; refused with the line and what is wrong."""
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError(
            {
                "logger_file": gettext("The file is over %(max_file_bytes)s bytes: is it a logger export?")
                % {"max_file_bytes": f"{MAX_FILE_BYTES:,}"}
            }
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            {"logger_file": gettext("The file is not UTF-8 text (a CSV export is expected).")}
        ) from exc
    lines = text.splitlines()[model.skip_rows :]
    rows = csv.DictReader(lines, delimiter=model.delimiter)
    missing = {model.time_column, model.temperature_column} - set(rows.fieldnames or [])
    if missing:
        raise ValidationError(
            {
                "logger_file": f"Columns {', '.join(sorted(missing))} not found for logger model {model.name}; "
                f"the header reads {', '.join(rows.fieldnames or []) or '(nothing)'}."
            }
        )
    readings: list[Reading] = []
    for number, row in enumerate(rows, start=model.skip_rows + 2):
        if len(readings) >= MAX_READINGS:
            raise ValidationError(
                {"logger_file": gettext("More than %(max_readings)s readings.") % {"max_readings": f"{MAX_READINGS:,}"}}
            )
        readings.append(
            (
                _time(row[model.time_column] or "", model, number),
                _temperature(row[model.temperature_column] or "", model, number),
            )
        )
    if len(readings) < 2:
        raise ValidationError({"logger_file": gettext("The file holds fewer than two readings.")})
    return sorted(readings)


@dataclass(frozen=True)
class Verdict:
    minimum: Decimal
    maximum: Decimal
    minutes_outside: int
    excursion: bool

    def describe(self, low: Decimal, high: Decimal, allowed: int) -> str:
        return (
            f"{self.minutes_outside} min outside {low} to {high} °C (allowed {allowed} min); "
            f"minimum {self.minimum} °C, maximum {self.maximum} °C"
        )


def judge(readings: list[Reading], *, low: Decimal, high: Decimal, allowed_minutes: int) -> Verdict:
    outside = timedelta()
    for (at, value), (following, _) in itertools.pairwise(readings):
        if not low <= value <= high:
            outside += following - at
    minutes = int(outside.total_seconds() // 60)
    values = [value for _, value in readings]
    return Verdict(min(values), max(values), minutes, minutes > allowed_minutes)


def require_coverage(readings: list[Reading], *, start: datetime, end: datetime, slack: timedelta) -> None:
    """The file must cover the journey, from hand-over to receipt (within ``slack``): otherwise it is another trip."""
    first, last = readings[0][0], readings[-1][0]
    if first > start + slack or last < end - slack:
        raise ValidationError(
            {
                "logger_file": f"The readings run from {first:%Y-%m-%d %H:%M %Z} to {last:%Y-%m-%d %H:%M %Z}; "
                f"they must cover the journey from {start:%Y-%m-%d %H:%M %Z} to {end:%Y-%m-%d %H:%M %Z}."
            }
        )

"""Temperatures: the shipper's logger file at receipt, and the storage units' monitoring readings.

The shipper and the storage units are items of the equipment register (``batches.models.equipment``);
these models only name them. A logger model says how its CSV file is laid out; the file read at receipt
is kept with its readings and verdict. Storage readings are pushed through the API and evaluated by beat;
an excursion is escalated to the unit's responsible person, then to QA, until acknowledged.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.checks import ChecksInOneQuery
from batches.models.custody import CustodyEvent
from batches.models.equipment import Equipment
from batches.models.triggers import no_delete

LOGGER_FILE_MAX_CHARS = 2_000_000  # a logger export of weeks at one reading a minute is far smaller


@gmp_model
class TemperatureLoggerModel(models.Model):
    """How one model of temperature logger writes its CSV export (the columns are named by header)."""

    name = models.CharField(max_length=80, unique=True)
    delimiter = models.CharField(max_length=1, default=",")
    skip_rows = models.PositiveSmallIntegerField(default=0, help_text="Lines before the header line.")
    time_column = models.CharField(max_length=40, default="timestamp")
    temperature_column = models.CharField(max_length=40, default="temperature_c")
    time_format = models.CharField(
        max_length=40, default="iso", help_text="'iso' (ISO 8601) or a strptime format such as %d/%m/%Y %H:%M."
    )
    time_zone = models.CharField(max_length=40, default="UTC", help_text="Zone of times written without one.")
    decimal_comma = models.BooleanField(default=False, help_text="Temperatures written 4,5 rather than 4.5.")

    class Meta:
        ordering = ["name"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return self.name


@gmp_model
class ShipmentTemperatureLog(models.Model):
    """The logger file of one hand-off, read at receipt: its readings and the verdict against the range."""

    custody_event = models.OneToOneField(CustodyEvent, on_delete=models.PROTECT, related_name="temperature_log")
    logger_model = models.ForeignKey(TemperatureLoggerModel, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    content = BoundedTextField(max_length=LOGGER_FILE_MAX_CHARS, help_text="The uploaded file as received.")
    readings = models.JSONField(help_text="[[UTC time ISO 8601, °C], ...] in time order.")
    range_low_c = models.DecimalField(max_digits=5, decimal_places=1)
    range_high_c = models.DecimalField(max_digits=5, decimal_places=1)
    allowed_minutes_outside = models.PositiveIntegerField()
    minimum_c = models.DecimalField(max_digits=5, decimal_places=1)
    maximum_c = models.DecimalField(max_digits=5, decimal_places=1)
    minutes_outside = models.PositiveIntegerField()
    excursion = models.BooleanField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [no_delete()]

    def __str__(self) -> str:
        verdict = "EXCURSION" if self.excursion else "within range"
        return f"{self.custody_event} logger {self.file_name}: {verdict}"


@gmp_model
class LoggerFileWaiver(models.Model):
    """QA's signed permission to receive a hand-off without its logger file (the reason is kept)."""

    custody_event = models.OneToOneField(CustodyEvent, on_delete=models.PROTECT, related_name="logger_waiver")
    reason = BoundedTextField(max_length=limits.REASON)
    authorized_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    authorized_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.custody_event} received without logger file"


@gmp_model
class StorageMonitor(ChecksInOneQuery):
    """The limits of one storage unit of the register and who answers for it."""

    equipment = models.OneToOneField(Equipment, on_delete=models.PROTECT, related_name="storage_monitor")
    low_c = models.DecimalField("lowest allowed (°C)", max_digits=5, decimal_places=1)
    high_c = models.DecimalField("highest allowed (°C)", max_digits=5, decimal_places=1)
    allowed_minutes_outside = models.PositiveIntegerField(default=15, help_text="Door openings and defrosts.")
    escalate_after_minutes = models.PositiveIntegerField(
        default=30, help_text="Unacknowledged this long, the alarm goes to QA."
    )
    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["equipment__code"]
        triggers = [no_delete()]
        constraints = [models.CheckConstraint(condition=models.Q(low_c__lt=models.F("high_c")), name="storage_range")]

    def __str__(self) -> str:
        return f"{self.equipment.code}: {self.low_c} to {self.high_c} °C"


class StorageReading(models.Model):
    """One temperature pushed by the monitoring system (append-only)."""

    monitor = models.ForeignKey(StorageMonitor, on_delete=models.PROTECT, related_name="readings")
    measured_at = models.DateTimeField()
    temperature_c = models.DecimalField(max_digits=5, decimal_places=1)
    received_at = models.DateTimeField(auto_now_add=True)
    pushed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["measured_at", "pk"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["monitor", "measured_at"], name="storage_reading_unique_time"),
        ]
        indexes = [models.Index(fields=["monitor", "measured_at"])]

    def __str__(self) -> str:
        when, temperature = formatting.moment(self.measured_at), formatting.number(self.temperature_c)
        return f"{self.monitor.equipment.code} {when} {temperature} °C"


class EscalationLevel(models.IntegerChoices):
    OPEN = 0, "Open, nobody told yet"
    RESPONSIBLE = 1, "Responsible person alerted"
    QA = 2, "Escalated to QA"


@gmp_model
class StorageExcursion(models.Model):
    """A storage unit outside its limits for longer than allowed, and who was told and who acknowledged."""

    monitor = models.ForeignKey(StorageMonitor, on_delete=models.PROTECT, related_name="excursions")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    extreme_c = models.DecimalField(max_digits=5, decimal_places=1)
    level = models.PositiveSmallIntegerField(choices=EscalationLevel.choices, default=EscalationLevel.OPEN)
    responsible_alerted_at = models.DateTimeField(null=True, blank=True)
    qa_alerted_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement = BoundedTextField(max_length=limits.NOTES, blank=True, help_text="What was done.")

    class Meta:
        ordering = ["-started_at", "pk"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return gettext("%(equipment)s excursion from %(time)s") % {
            "equipment": self.monitor.equipment.code,
            "time": formatting.moment(self.started_at),
        }

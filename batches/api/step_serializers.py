"""The API's step serializers: a step as stored, recorded or corrected (its fields, controls and ranges)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from batches import limits
from batches.api.fields import alert_reason_field, one_time_code_field, scanned_codes, username
from batches.master_limits import default_limits
from batches.master_limits import parse as parse_limits
from batches.models import ApheresisCollection, Cd133Selection, GcsfAdministration
from batches.services.people import Transcription
from batches.services.steps import editable_fields

STEP_META_FIELDS = [
    "id",
    "batch",
    "performed_by",
    "performed_at",
    "corrected_by",
    "corrected_at",
    "verified_by",
    "verified_at",
    "is_verified",
]
CONTROL_FIELDS = ("password", "otp_token", "reason", "transcribed", "lots", "equipment")
REQUIRED_CONTROLS = ("password", "reason")  # of a correction; the one-time code is checked by the service


class TranscriptionSerializer(serializers.Serializer[Any]):
    """An entry written down from a source by someone who did not perform the work."""

    source_reference = serializers.CharField(max_length=limits.NAME, help_text="e.g. 'Ward 4 G-CSF log, page 12'.")
    performer_name = serializers.CharField(max_length=limits.NAME, required=False, default="")
    performer_staff_number = serializers.CharField(max_length=30, required=False, default="")
    performer = serializers.CharField(
        max_length=150, required=False, default="", help_text="User name of the performer, when they have an account."
    )

    def validate_performer(self, value: str) -> User | None:
        if not value:
            return None
        performer = User.objects.filter(username=value).first()
        if performer is None:
            raise serializers.ValidationError(f"No user {value!r}.")
        return performer

    @staticmethod
    def transcription(data: dict[str, Any]) -> Transcription:
        performer = data.get("performer")
        return Transcription(
            source_reference=data["source_reference"],
            performer_name=data.get("performer_name", ""),
            performer_staff_number=data.get("performer_staff_number", ""),
            performer_id=performer.pk if performer else None,
        )


class StepSerializer(serializers.ModelSerializer[Any]):
    """A step as stored; on input also the password that signs it (never echoed back)."""

    performed_by = username("performed_by")
    # Who changed the data last (null until a correction); performed_by still names the first recorder.
    corrected_by = username("corrected_by")
    verified_by = username("verified_by")
    is_verified = serializers.BooleanField(read_only=True)
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=limits.PASSWORD, help_text="Re-entered to sign."
    )
    otp_token = one_time_code_field()
    transcribed = TranscriptionSerializer(
        write_only=True, required=False, help_text="When transcribed from a source: who performed it, and the source."
    )
    alert_reason = alert_reason_field(write_only=True)
    lots = scanned_codes("Barcodes of the material lots scanned for the step (recording only).")
    equipment = scanned_codes("Barcodes of the equipment scanned for the step (recording only).")

    class Meta:
        # Uniqueness (one G-CSF day, one collection) is the service's to refuse, with its own message.
        validators: list[Any] = []
        read_only_fields = STEP_META_FIELDS

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.validated_data.items() if k not in CONTROL_FIELDS}

    def transcription(self) -> Transcription | None:
        data = self.validated_data.get("transcribed")
        return TranscriptionSerializer.transcription(data) if data else None

    def scans(self) -> dict[str, list[str]]:
        """The scanned lot and equipment barcodes, for the step service's guards."""
        return {name: list(self.validated_data.get(name, [])) for name in ("lots", "equipment")}


def step_fields(kind: str, *computed: str) -> list[str]:
    return [
        *STEP_META_FIELDS,
        *editable_fields(kind),
        *computed,
        "alert_reason",
        "password",
        "otp_token",
        "transcribed",
        "lots",
        "equipment",
    ]


def range_help(kind: str) -> dict[str, dict[str, str]]:
    """The schema's help text of each field with a limit: the default range (the batch's definition decides)."""
    limits = parse_limits(default_limits())
    return {
        name: {"help_text": f"{limit.help_text()} (default; the batch's process definition decides)"}
        for name in editable_fields(kind)
        if (limit := limits.parameter(f"{kind}.{name}")) is not None
    }


class GcsfAdministrationSerializer(StepSerializer):
    class Meta(StepSerializer.Meta):
        model = GcsfAdministration
        fields = step_fields("gcsf", "dose_ug")


class ApheresisCollectionSerializer(StepSerializer):
    class Meta(StepSerializer.Meta):
        model = ApheresisCollection
        fields = step_fields("apheresis")
        extra_kwargs = range_help("apheresis")


class Cd133SelectionSerializer(StepSerializer):
    class Meta(StepSerializer.Meta):
        model = Cd133Selection
        fields = step_fields("selection", "recovery_pct")
        extra_kwargs = range_help("selection")


STEP_SERIALIZERS: dict[str, type[StepSerializer]] = {
    "gcsf": GcsfAdministrationSerializer,
    "apheresis": ApheresisCollectionSerializer,
    "selection": Cd133SelectionSerializer,
}


def correction_serializer(kind: str) -> type[StepSerializer]:
    """The step's fields, all optional (only what changes), plus the reason and the password."""
    base = STEP_SERIALIZERS[kind]

    def validate(self: StepSerializer, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = {name: "This field is required." for name in REQUIRED_CONTROLS if not attrs.get(name)}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs

    attrs = {
        "reason": serializers.CharField(
            write_only=True, max_length=limits.REASON, help_text="Why the value changes (audit trail)."
        ),
        "validate": validate,
        "Meta": type("Meta", (base.Meta,), {"fields": [*base.Meta.fields, "reason"]}),
    }
    return type(f"{base.__name__[: -len('Serializer')]}CorrectionSerializer", (base,), attrs)

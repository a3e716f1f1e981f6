"""Fields and bodies every API serializer shares: the signing body, reasons, scanned codes, user names."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from batches import limits


def username(source: str) -> serializers.CharField:
    return serializers.CharField(source=f"{source}.username", read_only=True, allow_null=True)


def one_time_code_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        max_length=12,
        help_text=(
            "The 6-digit code of your authenticator app; required when you have enrolled one "
            "(GET /api/v1/auth/me/ says so), ignored otherwise."
        ),
    )


def scanned_codes(help_text: str, *, most: int = 30) -> serializers.ListField:
    """A list of scanned barcodes (lots, equipment), each at most 40 characters."""
    return serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=most,
        required=False,
        default=list,
        write_only=True,
        help_text=help_text,
    )


def password_field(
    help_text: str = "Your password, re-entered to sign (21 CFR 11.200).", *, required: bool = True
) -> serializers.CharField:
    """The password re-entered to sign; ``required=False`` where the act may also be signed later."""
    optional: dict[str, Any] = {} if required else {"required": False, "default": "", "allow_blank": True}
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=limits.PASSWORD,
        style={"input_type": "password"},
        help_text=help_text,
        **optional,
    )


class PasswordSerializer(serializers.Serializer[Any]):
    """The body of every signed action: the password re-entered, and the one-time code when enrolled."""

    password = password_field()
    otp_token = one_time_code_field()


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=limits.REASON, help_text="Why (kept with the record and in the audit trail)."
    )


def alert_reason_field(**kwargs: Any) -> serializers.CharField:
    """Why a value in its alert range is accepted (batches.services.record_limits); blank when none is."""
    return serializers.CharField(
        max_length=limits.REASON,
        required=False,
        default="",
        allow_blank=True,
        help_text="Why a value in its alert range (process definition) is accepted; QA sees it as an exception.",
        **kwargs,
    )


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()

"""Errors raised by services; admin and API translate them into messages and status codes."""

from django.core.exceptions import ValidationError


class StateConflict(ValidationError):
    """The batch is not in a state that allows the action (HTTP 409)."""

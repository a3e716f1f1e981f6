"""Service refusals as HTTP answers: nothing a client sends may produce a 500.

ValidationError (and a malformed ISBT 128 identifier) → 400 with field errors; PermissionDenied → 403;
StateConflict → 409; DoesNotExist → 404; IntegrityError raised by a database guard → 409 with its message;
a body over DATA_UPLOAD_MAX_MEMORY_SIZE → 413; any other request Django calls suspicious → 400;
DataError (a value the column cannot hold, should one slip past validation) → 400.
The one mapping for every API view of both apps (REST_FRAMEWORK["EXCEPTION_HANDLER"]).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.db import DatabaseError, DataError, IntegrityError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from batches import isbt128
from batches.api.errors import too_big_message
from batches.exceptions import StateConflict

logger = logging.getLogger(__name__)


def validation_body(error: ValidationError) -> dict[str, Any]:
    """{field: [messages]} like DRF's own 400s; errors not tied to a field go under non_field_errors."""
    if hasattr(error, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
            for field, messages in error.message_dict.items()
        }
    # A refusal tied to no field also reads as one sentence under "detail", like DRF's other errors.
    return {api_settings.NON_FIELD_ERRORS_KEY: list(error.messages), "detail": " ".join(error.messages)}


def guard_message(error: DatabaseError) -> str:
    # The first line is the trigger's or constraint's own sentence; the rest is PostgreSQL context.
    text = str(error).strip()
    return text.splitlines()[0] if text else "The database refused the change."


def _answer(body: dict[str, Any], code: int) -> Response:
    set_rollback()
    return Response(body, status=code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, StateConflict):
        return _answer({"detail": " ".join(exc.messages)}, status.HTTP_409_CONFLICT)
    if isinstance(exc, ValidationError):
        return _answer(validation_body(exc), status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, isbt128.IdentifierError):
        return _answer({"detail": str(exc)}, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        return _answer({"detail": str(exc) or "You are not allowed to do this."}, status.HTTP_403_FORBIDDEN)
    if isinstance(exc, ObjectDoesNotExist):
        return _answer({"detail": str(exc) or "Not found."}, status.HTTP_404_NOT_FOUND)
    if isinstance(exc, IntegrityError):
        return _answer({"detail": guard_message(exc)}, status.HTTP_409_CONFLICT)
    if isinstance(exc, DataError):
        # Validation should have refused the value; the database's sentence names no field, so the
        # answer says what kind of value it was and leaves the rest to the log.
        logger.warning("Database refused a value: %s", guard_message(exc))
        body = {api_settings.NON_FIELD_ERRORS_KEY: [f"A value does not fit its field: {guard_message(exc)}"]}
        return _answer(body, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return _answer({"detail": too_big_message()}, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):
        return _answer({"detail": "Bad request."}, status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)

"""What every GMP ModelAdmin shares: role-based access, no direct writes, service errors on forms.

The admin is a window onto the workflow, not a bypass of it: access follows the user's roles
(Django groups) rather than model permissions, nothing is ever deleted, and every write goes
through a service in batches.services.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, models
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from batches.roles import Role, has_role

M = TypeVar("M", bound=models.Model)

# Everybody with a role may read the record (auditors and admins included); writing is per action.
READ_ROLES: tuple[Role, ...] = tuple(Role)
ServiceError = ValidationError | PermissionDenied | ObjectDoesNotExist | IntegrityError


def acting_user(request: HttpRequest) -> User:
    """The signed-in user; the admin site has already refused anonymous requests."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def error_text(error: ServiceError) -> str:
    """One readable sentence for a refusal, whatever its kind."""
    if isinstance(error, ValidationError):
        return " ".join(str(m) for m in error.messages)
    if isinstance(error, IntegrityError):
        # The database guard's own message, without PostgreSQL's CONTEXT lines.
        return str(error).splitlines()[0] if str(error) else "The database refused the change."
    if isinstance(error, ObjectDoesNotExist):
        return str(error) or "The record does not exist."
    return str(error) or "You are not allowed to do this."


def add_service_error(form: BaseForm, error: ServiceError) -> None:
    """Put a service's refusal onto the form: field errors on their fields, anything else on top."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields and field != NON_FIELD_ERRORS else None
            for message in errors:
                text = " ".join(message.messages)
                form.add_error(target, text if target else f"{field.replace('_', ' ')}: {text}")
        return
    form.add_error(None, error_text(error))


def datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")


def date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PasswordForm(forms.Form):
    """Re-entered password: every signed action asks for it again (21 CFR 11.200)."""

    password = forms.CharField(
        label="Your password (signature)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class GmpModelAdmin(admin.ModelAdmin[M]):
    """Role-based access; no change, no delete, and no save that bypasses a service."""

    add_roles: tuple[Role, ...] = ()
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(self.add_roles) and has_role(request.user, *self.add_roles)

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        raise PermissionDenied("GMP records are written only through their services.")

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        raise PermissionDenied("GMP records are never deleted.")

    def render_service_form(
        self, request: HttpRequest, form: BaseForm, *, title: str, obj: M | None = None, submit: str = "Save"
    ) -> HttpResponse:
        """A one-form page in the admin's frame (add forms, approvals)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "original": obj,
            "submit_label": submit,
            "has_view_permission": self.has_view_permission(request, obj),
        }
        return TemplateResponse(request, "admin/batches/service_form.html", context)

    def refuse(self, request: HttpRequest, error: ServiceError) -> None:
        messages.error(request, error_text(error))

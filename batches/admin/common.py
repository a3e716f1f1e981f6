"""What every GMP ModelAdmin shares: role-based access, no direct writes, service errors on forms.

The admin is a window onto the workflow, not a bypass of it: access follows the user's roles
(Django groups) rather than model permissions, nothing is ever deleted, and every write goes
through a service in batches.services.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.accounts.identity import one_time_code_required
from batches.roles import Domain, Role, has_role, may_act
from batches.web import READ_ROLES, ServiceError, error_text, service_form_page

M = TypeVar("M", bound=models.Model)


def datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")


def zone_hint(help_text: Any = "") -> Any:
    """A date-time field's help: the zone its value is read in (the server's), then any help of its own."""
    zone = format_lazy(gettext_lazy("Local time, {zone}."), zone=settings.TIME_ZONE)
    return format_lazy("{zone} {help}", zone=zone, help=help_text) if help_text else zone


def date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class OneTimeCodeField(forms.CharField):
    """The 6-digit code of the signer's authenticator app, asked for with the password."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "One-time code (authenticator app)")
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 12)
        attrs = {"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)


class SigningForm(forms.Form):
    """Base of every admin form that signs: it knows its signer, so it asks for a one-time code
    exactly when the signer has a confirmed authenticator (21 CFR 11.200)."""

    otp_token = OneTimeCodeField()

    def __init__(self, *args: Any, signer: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        code = self.fields.pop("otp_token")
        if one_time_code_required(signer):
            self.fields["otp_token"] = code  # after the password, next to the button that signs

    def one_time_code(self) -> str:
        """The code as typed ("" when none was asked for); the service checks it."""
        return str(self.cleaned_data.get("otp_token") or "")


class PasswordForm(SigningForm):
    """Re-entered password: every signed action asks for it again (21 CFR 11.200)."""

    password = forms.CharField(
        label=_("Your password (signature)"),
        strip=False,
        max_length=limits.PASSWORD,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class GmpModelAdmin(admin.ModelAdmin[M]):
    """Role-based access; no change, no delete, and no save that bypasses a service."""

    add_roles: tuple[Role, ...] = ()
    add_domain = Domain.BATCH_DATA  # what the add form writes (batches.roles.BARRED_FROM)
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(self.add_roles) and may_act(request.user, *self.add_roles, domain=self.add_domain)

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        raise PermissionDenied(gettext("GMP records are written only through their services."))

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        raise PermissionDenied(gettext("GMP records are never deleted."))

    def render_service_form(
        self, request: HttpRequest, form: BaseForm, *, title: str, obj: M | None = None, submit: str = ""
    ) -> HttpResponse:
        """A one-form page in the admin's frame (add forms, approvals); the button says Save unless told."""
        submit = submit or gettext("Save")
        return service_form_page(request, form, title=title, model=self.model, submit=submit, original=obj)

    def refuse(self, request: HttpRequest, error: ServiceError) -> None:
        messages.error(request, error_text(error))

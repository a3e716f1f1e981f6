"""Admin plumbing: pages are windows onto the services, never a bypass of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from batches import limits
from batches.admin.common import SigningForm
from batches.roles import Domain, Role, may_act, user_roles

GMP_ROLES = frozenset(Role.values)


def acting_user(request: HttpRequest) -> User:
    """The signed-in user (admin views run only for authenticated staff)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


class PasswordField(forms.CharField):
    """Re-entered at every signature (21 CFR 11.200)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Password (to sign)")
        kwargs.setdefault("max_length", limits.PASSWORD)
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        super().__init__(**kwargs)


def add_service_errors(form: forms.Form, error: ValidationError | PermissionDenied | ObjectDoesNotExist) -> None:
    """Show a service refusal on the form: field errors where the service named a field."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    elif isinstance(error, ValidationError):
        form.add_error(None, error.messages)
    else:
        form.add_error(None, str(error) or "Not allowed.")


def service_form_view(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    form_class: type[forms.Form],
    title: str,
    call: Callable[[dict[str, Any]], Any],
    success_url: Callable[[Any], str],
    initial: dict[str, Any] | None = None,
    form_kwargs: dict[str, Any] | None = None,
    intro: str = "",
    template: str = "qc/admin/service_form.html",
) -> HttpResponse:
    """Render ``form_class``; on a valid POST call the service and redirect, or show why it refused."""
    kwargs = dict(form_kwargs or {})
    if issubclass(form_class, SigningForm):
        kwargs["signer"] = acting_user(request)  # it asks for a one-time code when the signer has an authenticator
    form = form_class(request.POST or None, initial=initial, **kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = call(form.cleaned_data)
        except (ValidationError, PermissionDenied, ObjectDoesNotExist) as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{title}: done.")
            return HttpResponseRedirect(success_url(outcome))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "intro": intro,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, template, context)


class RoleGatedAdmin(admin.ModelAdmin):
    """Read access for every GMP role; writes only through the service forms (which check roles)."""

    write_roles: tuple[str, ...] = ()
    domain = Domain.BATCH_DATA

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(user_roles(request.user) & GMP_ROLES) or bool(getattr(request.user, "is_superuser", False))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_act(request.user, *self.write_roles, domain=self.domain)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def guard_add(self, request: HttpRequest) -> None:
        """An add page is shown only to the roles that may write (the service checks again)."""
        if not self.has_add_permission(request):
            raise PermissionDenied

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

"""What every entry point shares (admin pages, views, the API of both apps): who is acting, the refusals
a service raises and how they reach a form, and the one-form page that calls a service.

Services raise ValidationError (bad input, with field names), PermissionDenied (role, duties, password),
ObjectDoesNotExist (no such record) or IntegrityError (a database guard). Pages show them on the form as
typed; the API maps them in batches.api.exceptions.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib import messages
from django.contrib.admin import site as admin_site
from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.models.idempotency import KEY_LIFETIME, IdempotencyKey
from batches.roles import Role

SERVICE_ERRORS = (ValidationError, PermissionDenied, ObjectDoesNotExist, IntegrityError)
ServiceError = ValidationError | PermissionDenied | ObjectDoesNotExist | IntegrityError

# Everybody with a role may read the record (auditors and admins included); writing is per action.
READ_ROLES: tuple[Role, ...] = tuple(Role)


def acting_user(request: Any) -> User:
    """The signed-in user of a Django or DRF request; anonymous requests never reach a service."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied(_("Sign in first."))
    return user


def error_text(error: ServiceError) -> str:
    """One readable sentence for a refusal, whatever its kind."""
    if isinstance(error, ValidationError):
        return " ".join(str(m) for m in error.messages)
    if isinstance(error, IntegrityError):
        # The database guard's own message, without PostgreSQL's CONTEXT lines.
        return str(error).splitlines()[0] if str(error) else _("The database refused the change.")
    if isinstance(error, ObjectDoesNotExist):
        return str(error) or _("The record does not exist.")
    return str(error) or _("You are not allowed to do this.")


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


# The hidden field every admin form carries (the one_time_token template tag writes it).
ONE_TIME_FIELD = "form_token"


class AlreadyRecorded(ValidationError):
    """The same rendered form was submitted again (a double click, a resent POST): nothing more is written."""


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


@contextmanager
def submitted_once(request: HttpRequest) -> Iterator[None]:
    """``with submitted_once(request): <the service call>``: the form's one-time token is claimed in the
    service's transaction, so a second submit of the same form raises AlreadyRecorded and writes nothing.

    A concurrent second submit waits on the unique key until the first commits; if the first is refused
    (its transaction rolls back) the token is free again and the corrected form can be sent. A POST
    without a token (a script, an older page) is not deduplicated.
    """
    token = request.POST.get(ONE_TIME_FIELD, "") if request.method == "POST" else ""
    if not token:
        yield
        return
    user = acting_user(request)
    key = "form:" + hashlib.sha256(token.encode()).hexdigest()
    with transaction.atomic():
        IdempotencyKey.objects.filter(user=user, created_at__lt=timezone.now() - KEY_LIFETIME).delete()
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(user=user, key=key, method="FORM", path=request.path[:2000])
        except IntegrityError:
            raise AlreadyRecorded(
                _("This form was already submitted and recorded; nothing was recorded again.")
            ) from None
        yield


def service_form_page(
    request: HttpRequest,
    form: BaseForm,
    *,
    title: str,
    model: type[Model],
    submit: str = _("Save"),
    intro: str = "",
    original: Model | None = None,
    template: str = "admin/batches/service_form.html",
) -> TemplateResponse:
    """A one-form page in the admin's frame (add forms, approvals, reviews)."""
    context = {
        **admin_site.each_context(request),
        "opts": model._meta,
        "title": title,
        "form": form,
        "intro": intro,
        "original": original,
        "submit_label": submit,
        "has_view_permission": True,
    }
    return TemplateResponse(request, template, context)


def service_form_view(
    request: HttpRequest,
    form: BaseForm,
    *,
    call: Callable[[dict[str, Any]], Any],
    success_url: Callable[[Any], str],
    title: str,
    model: type[Model],
    submit: str = "",
    intro: str = "",
    original: Model | None = None,
    template: str = "admin/batches/service_form.html",
) -> HttpResponse:
    """On a valid POST call the service and redirect; otherwise (or on a refusal) show the form as typed."""
    if request.method == "POST" and form.is_valid():
        try:
            with submitted_once(request):
                outcome = call(form.cleaned_data)
        except SERVICE_ERRORS as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("%(title)s: done.") % {"title": title})
            return HttpResponseRedirect(success_url(outcome))
    return service_form_page(
        request,
        form,
        title=title,
        model=model,
        submit=submit or title,
        intro=intro,
        original=original,
        template=template,
    )

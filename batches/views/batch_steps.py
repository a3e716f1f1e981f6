"""The batch page's step and state forms: record, verify and correct a step, the G-CSF days several at once,
and the state changes; each POST calls one service, then redirects back to the batch page, or shows the page
again with the form as typed and the refusal on it (batches.views.batch_page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from batches.admin.common import PasswordForm
from batches.admin.forms import CancelForm, StepRecordForm, step_form_class
from batches.admin.workflow import step_values
from batches.models import Batch
from batches.services.gcsf_days import gcsf_days_record, gcsf_days_verify
from batches.services.steps import STEP_LABELS, STEP_MODELS, step_correct, step_record, step_verify
from batches.views.batch_page import VERIFY_DAYS_KEY, declared_on_page, failed, get_batch, invalid, page_url
from batches.views.step_forms import gcsf_days_form
from batches.web import SERVICE_ERRORS, acting_user, error_text, submitted_once


def step_kind(kind: str) -> str:
    if kind not in STEP_MODELS:
        raise Http404(f"Unknown step kind {kind!r}; use one of {', '.join(STEP_MODELS)}.")
    return kind


def step_of(batch: Batch, kind: str, step_id: int) -> Any:
    model: Any = STEP_MODELS[step_kind(kind)]
    step = model._default_manager.filter(pk=step_id, batch=batch).first()
    if step is None:
        raise Http404(f"Batch {batch.batch_number} has no {STEP_LABELS[kind].lower()} with id {step_id}.")
    return step


@require_POST
def record_step(request: HttpRequest, object_id: int, kind: str) -> HttpResponse:
    batch = get_batch(request, object_id)
    user = acting_user(request)
    form = step_form_class(step_kind(kind))(request.POST, auto_id="id_record_%s", signer=user, batch=batch)
    if not isinstance(form, StepRecordForm) or not form.is_valid():
        return invalid(request, batch, "record", form)
    try:
        with submitted_once(request):
            step = step_record(
                kind=kind,
                batch_id=batch.pk,
                actor=user,
                password=form.cleaned_data["password"],
                otp_token=form.one_time_code(),
                values=form.values(),
                transcribed=form.transcription(),
                lots=form.scans()["lots"],
                equipment=form.scans()["equipment"],
                start_stage=request.POST.get("start_stage") == "1",
            )
    except SERVICE_ERRORS as error:
        return failed(request, batch, "record", form, error)
    if form.transcription():
        done = gettext("%(step)s recorded and signed as recorded (transcribed).")
    else:
        done = gettext("%(step)s recorded and signed as performed.")
    messages.success(request, done % {"step": step})
    return redirect(page_url(batch))


@require_POST
def verify_step(request: HttpRequest, object_id: int, kind: str, step_id: int) -> HttpResponse:
    batch = get_batch(request, object_id)
    step = step_of(batch, kind, step_id)
    key = f"verify-{kind}-{step.pk}"
    user = acting_user(request)
    form = PasswordForm(request.POST, auto_id=f"id_{key}_%s", signer=user)
    if not form.is_valid():
        return invalid(request, batch, key, form)
    try:
        with submitted_once(request):
            step_verify(
                kind=kind,
                step_id=step.pk,
                verifier=user,
                password=form.cleaned_data["password"],
                otp_token=form.one_time_code(),
            )
    except SERVICE_ERRORS as error:
        return failed(request, batch, key, form, error)
    messages.success(request, gettext("%(step)s verified and signed.") % {"step": step})
    return redirect(page_url(batch))


def signed_act(
    request: HttpRequest, batch: Batch, key: str, form: BaseForm, act: Callable[[dict[str, Any], str], Any]
) -> HttpResponse:
    """One act over several records (a signed manifest): call it, then say what was signed once for all."""
    if not form.is_valid():
        return invalid(request, batch, key, form)
    try:
        with submitted_once(request):
            manifest = act(form.cleaned_data, getattr(form, "one_time_code", str)())
    except SERVICE_ERRORS as error:
        return failed(request, batch, key, form, error)
    messages.success(request, _("%(statement)s: signed once for all.") % {"statement": manifest.statement})
    return redirect(page_url(batch))


@require_POST
def record_gcsf_days(request: HttpRequest, object_id: int) -> HttpResponse:
    """Record several G-CSF days in one act: one password, one signed manifest of the days."""
    batch = get_batch(request, object_id)
    user = acting_user(request)
    form = gcsf_days_form(batch, user, request.POST)
    return signed_act(
        request,
        batch,
        "record",
        form,
        lambda data, code: gcsf_days_record(
            actor=user,
            batch_id=batch.pk,
            password=data["password"],
            otp_token=code,
            days=form.values(),
            **form.scans(),
        ),
    )


@require_POST
def verify_gcsf_days(request: HttpRequest, object_id: int) -> HttpResponse:
    """Verify every open G-CSF day in one act: one password, one signed manifest of the days."""
    batch = get_batch(request, object_id)
    user = acting_user(request)
    return signed_act(
        request,
        batch,
        VERIFY_DAYS_KEY,
        PasswordForm(request.POST, auto_id="id_verify_days_%s", signer=user),
        lambda data, code: gcsf_days_verify(actor=user, batch_id=batch.pk, password=data["password"], otp_token=code),
    )


@require_POST
def correct_step(request: HttpRequest, object_id: int, kind: str, step_id: int) -> HttpResponse:
    batch = get_batch(request, object_id)
    step = step_of(batch, kind, step_id)
    key = f"correct-{kind}-{step.pk}"
    user = acting_user(request)
    form: Any = step_form_class(kind, correction=True)(
        request.POST, initial=step_values(step), auto_id=f"id_{key}_%s", signer=user, batch=batch
    )
    if not form.is_valid():
        return invalid(request, batch, key, form)
    changed = form.changed_values(step_values(step))
    if not changed:
        form.add_error(None, gettext("Nothing was changed; there is nothing to correct."))

        return invalid(request, batch, key, form)
    try:
        with submitted_once(request):
            step_correct(
                kind=kind,
                step_id=step.pk,
                actor=user,
                password=form.cleaned_data["password"],
                otp_token=form.one_time_code(),
                values=changed,
                reason=form.cleaned_data["reason"],
            )
    except SERVICE_ERRORS as error:
        return failed(request, batch, key, form, error)
    messages.success(
        request,
        gettext("%(step)s corrected (%(fields)s) and signed again.")
        % {"step": step, "fields": ", ".join(sorted(changed))},
    )
    return redirect(page_url(batch))


@require_POST
def transition(request: HttpRequest, object_id: int, action: str) -> HttpResponse:
    batch = get_batch(request, object_id)
    state_action = declared_on_page().get(action)
    if state_action is None:
        raise Http404(f"Unknown action {action!r}; use one of {', '.join(declared_on_page())}.")
    user = acting_user(request)
    if state_action.needs_reason:
        form = CancelForm(request.POST, auto_id="id_cancel_%s")
        if not form.is_valid():
            return invalid(request, batch, "cancel", form)
        try:
            with submitted_once(request):
                state_action.service(actor=user, batch_id=batch.pk, reason=form.cleaned_data["reason"])
        except SERVICE_ERRORS as error:
            return failed(request, batch, "cancel", form, error)
    else:
        try:
            with submitted_once(request):
                state_action.service(actor=user, batch_id=batch.pk)
        except SERVICE_ERRORS as error:
            messages.error(request, error_text(error))
            return redirect(page_url(batch))
    batch.refresh_from_db()
    messages.success(
        request,
        gettext("%(action)s: batch %(batch)s is now %(status)s.")
        % {
            "action": gettext(state_action.label),
            "batch": batch.batch_number,
            "status": batch.get_status_display().lower(),
        },
    )
    return redirect(page_url(batch))

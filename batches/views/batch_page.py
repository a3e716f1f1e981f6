"""The batch page and its forms: every step in order, what is needed next, each button calling one service.

Mounted by the admin site (config.admin); each POST calls one service, then redirects back to the page,
or shows the page again with the form as typed and the refusal on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from batches.admin.batch import state_badge
from batches.admin.common import PasswordForm
from batches.admin.forms import CancelForm, GcsfDaysForm, StepForm, StepRecordForm, step_form_class
from batches.admin.progress import batch_gate, next_steps
from batches.admin.workflow import (
    available_actions,
    in_sentence,
    sections,
    step_values,
)
from batches.ledger.trail import latest_batch_entries
from batches.models import Batch
from batches.roles import Role, has_role, may_act, user_roles
from batches.selectors import batch_integrity_findings
from batches.services.actions import StateAction, action, declared_actions
from batches.services.custody import expires_at
from batches.services.gcsf_days import VERIFY_GCSF_DAYS, gcsf_days_record, gcsf_days_verify
from batches.services.steps import STEP_LABELS, STEP_MODELS, step_correct, step_record, step_verify
from batches.snapshot import DEMONSTRATION_MARK
from batches.views.audit import TRAIL_ROLES
from batches.views.links import batch_links
from batches.views.signature_rows import signature_rows
from batches.views.step_forms import current_record_form, gcsf_days_form
from batches.web import (
    READ_ROLES,
    SERVICE_ERRORS,
    ServiceError,
    acting_user,
    add_service_error,
    error_text,
    submitted_once,
)
from qc.selectors import batch_alerts

VERIFY_DAYS_KEY = "verify-gcsf-days"


def declared_on_page() -> dict[str, StateAction]:
    return {a.slug: a for a in declared_actions() if a.on_batch_page}


def page_url(batch: Batch) -> str:
    return reverse("admin:batches_batch_change", args=[batch.pk])


def get_batch(request: HttpRequest, object_id: str | int) -> Batch:
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied(gettext("Viewing batch records requires a CellBatch role."))
    try:
        return Batch.objects.select_related("patient", "process_definition", "registered_by").get(pk=object_id)
    except (Batch.DoesNotExist, ValueError):
        raise Http404(f"No batch with id {object_id}.") from None


@require_GET
def batch_page(request: HttpRequest, object_id: str | int) -> TemplateResponse:
    """The batch page, at the address of the batch's admin change page (it has no change form)."""
    return render_page(request, get_batch(request, object_id))


def render_page(request: HttpRequest, batch: Batch, bound: dict[str, BaseForm] | None = None) -> TemplateResponse:
    user = acting_user(request)
    bound = bound or {}
    can_record = may_act(user, Role.OPERATOR)
    can_verify = may_act(user, Role.VERIFIER)
    steps_by_kind = sections(batch, user)
    for section in steps_by_kind:
        for view in section.steps:
            key = f"{view.kind}-{view.step.pk}"
            # A refused form is shown again as typed, even when the step has become read-only.
            if f"verify-{key}" in bound:
                view.forms["verify"] = bound[f"verify-{key}"]
            elif view.editable and can_verify and not view.verify_hint and view.kind != "gcsf":
                view.forms["verify"] = PasswordForm(auto_id=f"id_verify-{key}_%s", signer=user)
            if f"correct-{key}" in bound:
                view.forms["correct"] = bound[f"correct-{key}"]
            elif view.editable and can_record:
                form_class = step_form_class(view.kind, correction=True)
                view.forms["correct"] = form_class(
                    initial=step_values(view.step), auto_id=f"id_correct-{key}_%s", signer=user, batch=batch
                )
    record: StepForm | BaseForm | None = bound.get("record")
    record_title = ""
    start_stage = False
    gate = batch_gate(batch)
    needed = next_steps(batch, gate)
    if record is None and can_record:
        record, record_title, start_stage = current_record_form(batch, user, needed)
    elif record is not None:
        record_title = f"Record {in_sentence(STEP_LABELS[getattr(record, 'kind', '')])}"
    verify_days = bound.get(VERIFY_DAYS_KEY)
    if verify_days is None and VERIFY_GCSF_DAYS.offered(batch, user):
        open_days = [v for s in steps_by_kind if s.kind == "gcsf" for v in s.steps if not v.step.is_verified]
        if open_days:
            verify_days = PasswordForm(auto_id="id_verify_days_%s", signer=user)
            verify_days.days = [v.title for v in open_days]  # type: ignore[attr-defined]
    actions = available_actions(batch, user)
    review_results = None
    if (
        gate
        and any(t.result and not t.result.is_verified for t in gate.tests)
        and action("review-results").offered(batch, user)
    ):
        review_results = PasswordForm(auto_id="id_review_results_%s", signer=user)
    links = batch_links(batch, user)
    may_read_trail = bool(user_roles(user) & set(TRAIL_ROLES))
    needed_labels = {step.label for step in needed}
    context = {
        **admin.site.each_context(request),
        "opts": Batch._meta,
        "title": gettext("Batch %(batch)s") % {"batch": batch.batch_number},
        "original": batch,
        "batch": batch,
        "has_view_permission": True,
        "state_badge": state_badge(batch.status),
        "demonstration_mark": DEMONSTRATION_MARK if batch.is_demo else "",
        "alerts": batch_alerts(batch),
        "integrity_findings": batch_integrity_findings(batch),
        "expires_at": expires_at(batch),
        "gate": gate,
        "dispositions": batch.dispositions.select_related("decided_by"),
        "review_url": reverse("admin:qc_review_batch", args=[batch.pk]),
        "next_actions": needed,
        # The current step comes first; the others keep their numbers and their order.
        "sections": sorted(
            steps_by_kind, key=lambda section: not (section.active or section.kind == getattr(record, "kind", ""))
        ),
        "start_stage": start_stage,
        "verify_days_form": verify_days,
        "review_results_form": review_results,
        "record_form": record,
        "record_kind": getattr(record, "kind", ""),
        "record_action": reverse("admin:batches_batch_record_gcsf_days", args=[batch.pk])
        if isinstance(record, GcsfDaysForm)
        else reverse("admin:batches_batch_record", args=[batch.pk, getattr(record, "kind", "gcsf") or "gcsf"]),
        "record_title": record_title,
        # A state change that "what is needed next" asks for is the primary button; others stay quiet.
        "actions": [(a, gettext(a.label) in needed_labels) for a in actions if not a.needs_reason],
        "cancel_action": next((a for a in actions if a.needs_reason), None),
        "cancel_form": bound.get("cancel") or CancelForm(auto_id="id_cancel_%s"),
        "cancel_open": "cancel" in bound,
        "signatures": signature_rows(batch, steps_by_kind),
        "transitions": batch.transitions.select_related("actor"),
        "link_sections": links,
        "has_links": any(items for _, items in links),
        "latest_audit": latest_batch_entries(batch, LATEST_AUDIT_ENTRIES) if may_read_trail else None,
        "roles": ", ".join(sorted(user_roles(user))) or "none",
        "read_only_notice": not (can_record or can_verify or actions),
    }
    return TemplateResponse(request, "admin/batches/batch/workflow.html", context)


# The batch page shows this many of the newest audit events; the trail page shows them all.
LATEST_AUDIT_ENTRIES = 10


def failed(request: HttpRequest, batch: Batch, key: str, form: BaseForm, error: ServiceError) -> HttpResponse:
    """Redisplay the page with the form as typed and the refusal on it and on top."""
    add_service_error(form, error)
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        messages.error(request, gettext("Nothing was saved: correct the fields marked below."))
    else:
        messages.error(request, gettext("Nothing was saved. %(reason)s") % {"reason": error_text(error)})
    return render_page(request, batch, {key: form})


def invalid(request: HttpRequest, batch: Batch, key: str, form: BaseForm) -> HttpResponse:
    messages.error(request, gettext("Nothing was saved: correct the fields marked below."))
    return render_page(request, batch, {key: form})


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

"""The batch page and its forms: every step in order, what is needed next, each button calling one service.

Mounted by the admin site (config.admin); each POST calls one service, then redirects back to the page,
or shows the page again with the form as typed and the refusal on it.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_POST

from batches.admin.batch import state_badge
from batches.admin.common import PasswordForm
from batches.admin.forms import CancelForm, StepForm, step_form_class
from batches.admin.progress import batch_gate, next_steps
from batches.admin.workflow import (
    available_actions,
    in_sentence,
    record_initial,
    recordable_step,
    sections,
    step_values,
)
from batches.models import Batch
from batches.roles import Role, has_role, may_act, user_roles
from batches.services.actions import StateAction, declared_actions
from batches.services.custody import expires_at
from batches.services.steps import STEP_LABELS, STEP_MODELS, step_correct, step_record, step_verify
from batches.signature_checks import SignatureState, signature_states
from batches.snapshot import DEMONSTRATION_MARK
from batches.views.links import batch_links
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


def declared_on_page() -> dict[str, StateAction]:
    return {a.slug: a for a in declared_actions() if a.on_batch_page}


def page_url(batch: Batch) -> str:
    return reverse("admin:batches_batch_change", args=[batch.pk])


def get_batch(request: HttpRequest, object_id: str | int) -> Batch:
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied("Viewing batch records requires a CellBatch role.")
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
            elif view.editable and can_verify and not view.verify_hint:
                view.forms["verify"] = PasswordForm(auto_id=f"id_verify-{key}_%s", signer=user)
            if f"correct-{key}" in bound:
                view.forms["correct"] = bound[f"correct-{key}"]
            elif view.editable and can_record:
                form_class = step_form_class(view.kind, correction=True)
                view.forms["correct"] = form_class(
                    initial=step_values(view.step), auto_id=f"id_correct-{key}_%s", signer=user
                )
    record: StepForm | BaseForm | None = bound.get("record")
    record_title = ""
    current = recordable_step(batch)
    if record is None and current and can_record:
        kind, record_title = current
        record = step_form_class(kind)(initial=record_initial(batch, kind), auto_id="id_record_%s", signer=user)
    elif record is not None:
        record_title = f"Record {in_sentence(STEP_LABELS[getattr(record, 'kind', '')])}"
    actions = available_actions(batch, user)
    gate = batch_gate(batch)
    needed = next_steps(batch, gate)
    links = batch_links(batch, user)
    needed_labels = {step.label for step in needed}
    context = {
        **admin.site.each_context(request),
        "opts": Batch._meta,
        "title": f"Batch {batch.batch_number}",
        "original": batch,
        "batch": batch,
        "has_view_permission": True,
        "state_badge": state_badge(batch.status),
        "demonstration_mark": DEMONSTRATION_MARK if batch.is_demo else "",
        "alerts": batch_alerts(batch),
        "expires_at": expires_at(batch),
        "gate": gate,
        "dispositions": batch.dispositions.select_related("decided_by"),
        "review_url": reverse("admin:qc_review_batch", args=[batch.pk]),
        "next_actions": needed,
        "sections": steps_by_kind,
        "record_form": record,
        "record_kind": getattr(record, "kind", ""),
        "record_title": record_title,
        # A state change that "what is needed next" asks for is the primary button; others stay quiet.
        "actions": [(a, a.label in needed_labels) for a in actions if not a.needs_reason],
        "cancel_action": next((a for a in actions if a.needs_reason), None),
        "cancel_form": bound.get("cancel") or CancelForm(auto_id="id_cancel_%s"),
        "cancel_open": "cancel" in bound,
        "signatures": signature_rows(batch, steps_by_kind),
        "transitions": batch.transitions.select_related("actor"),
        "link_sections": links,
        "has_links": any(items for _, items in links),
        "roles": ", ".join(sorted(user_roles(user))) or "none",
        "read_only_notice": not (can_record or can_verify or actions),
    }
    return TemplateResponse(request, "admin/batches/batch/workflow.html", context)


SIGNATURE_CELLS = {
    SignatureState.VALID: ("Valid", "cb-sig-valid"),
    SignatureState.INVALIDATED: ("Invalidated", "cb-sig-invalidated"),
    SignatureState.INVALID: ("INVALID", "cb-sig-invalid"),
}


def signature_rows(batch: Batch, steps_by_kind: list[Any]) -> list[dict[str, Any]]:
    titles = {(view.step._meta.model_name, view.step.pk): view.title for s in steps_by_kind for view in s.steps}
    rows = []
    # Checked all at once: the signed records load in one query per record type, not one per signature.
    for check in signature_states(batch):
        sig = check.signature
        state, css = SIGNATURE_CELLS[check.state]
        rows.append(
            {
                "signature": sig,
                "record": titles.get((sig.content_type.model, sig.object_id))
                or f"{capfirst(sig.content_type.name)} #{sig.object_id}",
                "utc": sig.signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "local": timezone.localtime(sig.signed_at).strftime("%Y-%m-%d %H:%M:%S %Z"),
                "state": state,
                "css": css,
            }
        )
    return rows


def failed(request: HttpRequest, batch: Batch, key: str, form: BaseForm, error: ServiceError) -> HttpResponse:
    """Redisplay the page with the form as typed and the refusal on it and on top."""
    add_service_error(form, error)
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        messages.error(request, "Nothing was saved: correct the fields marked below.")
    else:
        messages.error(request, f"Nothing was saved. {error_text(error)}")
    return render_page(request, batch, {key: form})


def invalid(request: HttpRequest, batch: Batch, key: str, form: BaseForm) -> HttpResponse:
    messages.error(request, "Nothing was saved: correct the fields marked below.")
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
    form = step_form_class(step_kind(kind))(request.POST, auto_id="id_record_%s", signer=user)
    if not form.is_valid():
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
            )
    except SERVICE_ERRORS as error:
        return failed(request, batch, "record", form, error)
    messages.success(request, f"{step} recorded and signed as performed.")
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
    messages.success(request, f"{step} verified and signed.")
    return redirect(page_url(batch))


@require_POST
def correct_step(request: HttpRequest, object_id: int, kind: str, step_id: int) -> HttpResponse:
    batch = get_batch(request, object_id)
    step = step_of(batch, kind, step_id)
    key = f"correct-{kind}-{step.pk}"
    user = acting_user(request)
    form: Any = step_form_class(kind, correction=True)(
        request.POST, initial=step_values(step), auto_id=f"id_{key}_%s", signer=user
    )
    if not form.is_valid():
        return invalid(request, batch, key, form)
    changed = form.changed_values(step_values(step))
    if not changed:
        form.add_error(None, "Nothing was changed; there is nothing to correct.")
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
    messages.success(request, f"{step} corrected ({', '.join(sorted(changed))}) and signed again.")
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
        request, f"{state_action.label}: batch {batch.batch_number} is now {batch.get_status_display().lower()}."
    )
    return redirect(page_url(batch))

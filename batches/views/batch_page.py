"""The batch page and its forms: every step in order, what is needed next, each button calling one service.

Mounted by the admin site (config.admin); each POST calls one service, then redirects back to the page,
or shows the page again with the form as typed and the refusal on it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from batches.admin.batch import state_badge
from batches.admin.common import PasswordForm
from batches.admin.forms import CancelForm, GcsfDaysForm, StepForm, step_form_class
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
from batches.services.gcsf_days import VERIFY_GCSF_DAYS
from batches.services.steps import STEP_LABELS
from batches.snapshot import DEMONSTRATION_MARK
from batches.states import BatchStatus
from batches.views.audit import TRAIL_ROLES
from batches.views.desk_form import DeskForm, posted_form, submit_form
from batches.views.desk_labels import label_context, label_forms
from batches.views.links import batch_links
from batches.views.live import live_answer, live_context
from batches.views.signature_rows import signature_rows
from batches.views.step_forms import current_record_form
from batches.web import (
    READ_ROLES,
    ServiceError,
    acting_user,
    add_service_error,
    error_text,
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


@require_GET
def batch_live(request: HttpRequest, object_id: str | int) -> HttpResponse:
    """The page's content once someone recorded on the batch since it was drawn (batches.views.live)."""
    batch = get_batch(request, object_id)
    return live_answer(request, batch, lambda: render_page(request, batch, template=LIVE_TEMPLATE))


@require_POST
def batch_labelling(request: HttpRequest, object_id: str | int) -> HttpResponse:
    """A labelling form of the desk, submitted from the batch page: back to the page, or the labels printed."""
    batch = get_batch(request, object_id)
    posted = posted_form(label_forms(batch), request)
    if posted is None:
        messages.error(request, gettext("That form is not open for this batch now; the page shows what is."))
        return redirect(page_url(batch))
    done = submit_form(request, batch, posted, page_url(batch))
    if done is not None:
        return done
    return render_page(request, batch, {f"labels-{posted.key}": posted.form})


PAGE_TEMPLATE = "admin/batches/batch/workflow.html"
LIVE_TEMPLATE = "admin/batches/batch/workflow_live.html"


def labelling(batch: Batch, user: User, bound: dict[str, Any]) -> list[DeskForm]:
    """The labelling forms this user may use on the batch page: built, or as posted with their refusal."""
    offered = [d for d in label_forms(batch) if f"labels-{d.key}" in bound or has_role(user, *d.roles)]
    for desk in offered:
        posted = bound.get(f"labels-{desk.key}")
        if posted is None:
            desk.build(user)
        else:
            desk.form = posted
    return offered


def render_page(
    request: HttpRequest, batch: Batch, bound: dict[str, Any] | None = None, *, template: str = PAGE_TEMPLATE
) -> TemplateResponse:
    # The stamp before anything is read: what is written meanwhile shows at the next update.
    live = live_context(batch, "admin:batches_batch_live", live=not bound)
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
    label_desks = labelling(batch, user, bound)
    context = {
        **admin.site.each_context(request),
        **live,
        **(label_context(batch) if label_desks else {}),
        "label_forms": label_desks,
        # The bag labelled before the apheresis; the final bag's label and the packaging record before release.
        "labels_first": batch.status in (BatchStatus.COLLECTION, BatchStatus.QUARANTINE),
        "labelling_url": reverse("admin:batches_batch_labelling", args=[batch.pk]),
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
    return TemplateResponse(request, template, context)


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

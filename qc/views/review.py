"""The QA review (/admin/qa-review/): the batches awaiting a decision, and one page per batch with what
needs a decision first, then the record, and the decision form (release, conditional release, reject,
QP certification) offering only what the declared actions allow this user now.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from batches import limits
from batches.admin.common import SigningForm
from batches.models import Batch, BatchDisposition, ElectronicSignature
from batches.release import disposition
from batches.roles import Role, has_role
from batches.states import BatchStatus
from batches.usage import batch_equipment_uses, batch_lot_uses, batch_monitoring_results
from batches.views.links import REVIEW_STATES
from batches.web import READ_ROLES, SERVICE_ERRORS, acting_user, add_service_error, submitted_once
from qc.admin.common import PasswordField
from qc.models import Deviation, Notification, QcSample
from qc.selectors import batch_alerts, release_gate

REVIEW_LIST_LIMIT = 200
# No decision is preselected: QA chooses one deliberately.
NO_DECISION = ("", _("Choose a decision…"))


class DecisionForm(SigningForm):
    DECISIONS = [
        ("release", _("Release")),
        ("release_conditionally", _("Release conditionally (sterility pending)")),
        ("reject", _("Reject")),
        ("certify", _("Certify (Qualified Person)")),
    ]
    decision = forms.ChoiceField(choices=[NO_DECISION, *DECISIONS])
    comment = forms.CharField(
        max_length=limits.REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required to reject (the reason)."),
    )
    positive_result_plan = forms.CharField(
        max_length=limits.DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Conditional release: what is done if the pending culture turns positive."),
    )
    password = PasswordField()


# Each choice of the decision form is one declared action; the form offers a choice only where its
# action's guard would pass (role and state), and certification only while it is outstanding.
DECISION_ACTIONS = {
    "release": disposition.RELEASE,
    "release_conditionally": disposition.RELEASE_CONDITIONALLY,
    "reject": disposition.REJECT,
    "certify": disposition.CERTIFY,
}


def open_decisions(user: User, batch: Batch) -> list[tuple[str, StrOrPromise]]:
    """The decisions this user can take on this batch now (the form offers only these)."""
    offered: list[tuple[str, StrOrPromise]] = [
        c for c in DecisionForm.DECISIONS if DECISION_ACTIONS[c[0]].offered(batch, user)
    ]
    if any(c[0] == "certify" for c in offered) and gettext("QP certification") not in disposition.release_outstanding(
        batch
    ):
        offered = [c for c in offered if c[0] != "certify"]
    return offered


def decide(user: User, batch: Batch, data: dict[str, Any]) -> BatchDisposition:
    """Call the service of the chosen decision's action with the arguments it takes."""
    common = {"actor": user, "batch_id": batch.pk, "password": data["password"], "otp_token": data.get("otp_token", "")}
    service = DECISION_ACTIONS[data["decision"]].service
    match data["decision"]:
        case "release_conditionally":
            return service(**common, positive_result_plan=data["positive_result_plan"], comment=data["comment"])
        case "reject":
            return service(**common, reason=data["comment"])
        case _:
            return service(**common, comment=data["comment"])


def review_page(request: HttpRequest, batch_id: int) -> HttpResponse:
    """What needs a decision first, then the record; the decision form offers only what is open."""
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied(gettext("The QA review needs a CellBatch role."))
    batch = Batch.objects.select_related("process_definition", "patient").filter(pk=batch_id).first()
    if batch is None:
        raise Http404(gettext("No such batch."))
    form = DecisionForm(request.POST or None, signer=acting_user(request))
    if request.method == "POST" and form.is_valid():
        try:
            with submitted_once(request):
                decided = decide(acting_user(request), batch, form.cleaned_data)
        except SERVICE_ERRORS as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Batch {batch.batch_number}: {decided.get_decision_display().lower()}.")
            return HttpResponseRedirect(reverse("admin:qc_review_batch", args=[batch.pk]))
    gate = release_gate(batch, releaser=acting_user(request))
    offered = open_decisions(acting_user(request), batch)
    if not form.is_bound:
        # A refused POST keeps every choice (the service said why); a fresh form offers only what is open.
        decision = form.fields["decision"]
        if isinstance(decision, forms.ChoiceField):
            decision.choices = [NO_DECISION, *offered]
        # Only the fields that apply: the plan for a positive culture exists only for a conditional release.
        if not any(choice == "release_conditionally" for choice, _label in offered):
            del form.fields["positive_result_plan"]
        if not any(choice == "reject" for choice, _label in offered):
            form.fields["comment"].help_text = ""
    context = {
        **admin.site.each_context(request),
        "title": gettext("QA review of batch %(batch)s") % {"batch": batch.batch_number},
        "opts": Batch._meta,
        "batch": batch,
        "gate": gate,
        "alerts": batch_alerts(batch),
        "form": form,
        "show_form": bool(offered) or form.is_bound,
        "links": page_links(request, batch),
        "gcsf": batch.gcsf_administrations.select_related("performed_by", "verified_by").order_by("day"),
        "apheresis": getattr(batch, "apheresis", None),
        "selection": getattr(batch, "selection", None),
        "samples": QcSample.objects.filter(batch=batch).select_related("taken_by"),
        "deviations": Deviation.objects.filter(batch=batch).order_by("raised_at"),
        "signatures": ElectronicSignature.objects.filter(batch=batch).select_related("content_type"),
        "transitions": batch.transitions.select_related("actor"),
        "dispositions": BatchDisposition.objects.filter(batch=batch).select_related("decided_by"),
        "notifications": Notification.objects.filter(batch=batch),
        "monitoring": batch_monitoring_results(batch),
        "lot_uses": batch_lot_uses(batch),
        "equipment_uses": batch_equipment_uses(batch),
    }
    return TemplateResponse(request, "qc/review.html", context)


def page_links(request: HttpRequest, batch: Batch) -> list[tuple[str, str]]:
    """The batch page, and the audit trail and delivery desk for those who may open them."""
    links = [(gettext("Batch page"), reverse("admin:batches_batch_change", args=[batch.pk]))]
    if has_role(request.user, Role.AUDITOR, Role.QA_REVIEWER, Role.QUALIFIED_PERSON):
        links.append((gettext("Audit trail"), reverse("admin:batches_batch_audit", args=[batch.pk])))
    if batch.status not in ("processing", "rejected", "cancelled"):
        links.append((gettext("Delivery desk"), reverse("admin:batches_delivery_desk", args=[batch.pk])))
    return links


def review_index(request: HttpRequest) -> HttpResponse:
    """Batches from processing on, newest first, filtered by state (?status=quarantine), each with its flag."""
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied(gettext("The QA review needs a CellBatch role."))
    status = request.GET.get("status", "")
    states = [status] if status in REVIEW_STATES else list(REVIEW_STATES)
    batches = list(
        Batch.objects.filter(status__in=states).select_related("patient").order_by("-registered_at")[:REVIEW_LIST_LIMIT]
    )
    rows = [(batch, batch_alerts(batch)) for batch in batches]
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": gettext("QA review"),
        "rows": rows,
        "status": status,
        "states": [(s, gettext(BatchStatus(s).label)) for s in REVIEW_STATES],
        "limit": REVIEW_LIST_LIMIT,
    }
    return TemplateResponse(request, "qc/review_index.html", context)

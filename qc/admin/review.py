"""The QA review page (/admin/qc/review/<batch id>/): what needs a decision first, then the record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from batches import limits
from batches.admin.common import SigningForm
from batches.admin.links import QA_REVIEW, register_batch_link
from batches.models import Batch, BatchDisposition, ElectronicSignature
from batches.roles import Role, has_role
from batches.services import release
from batches.states import BatchStatus
from qc.admin.common import PasswordField, RoleGatedAdmin, acting_user
from qc.models import Deviation, Notification, QcSample, Review
from qc.selectors import batch_alerts, release_gate

REVIEW_STATES = [s for s in BatchStatus.values if s not in ("registered", "mobilization", "collection", "cancelled")]
REVIEW_LINK_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)


class DecisionForm(SigningForm):
    DECISIONS = [
        ("release", "Release"),
        ("release_conditionally", "Release conditionally (sterility pending)"),
        ("reject", "Reject"),
        ("certify", "Certify (Qualified Person)"),
    ]
    decision = forms.ChoiceField(choices=DECISIONS)
    comment = forms.CharField(
        max_length=limits.REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject (the reason).",
    )
    positive_result_plan = forms.CharField(
        max_length=limits.DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Conditional release: what is done if the pending culture turns positive.",
    )
    password = PasswordField()


def open_decisions(user: User, batch: Batch) -> list[tuple[str, str]]:
    """The decisions this user can take on this batch now (the form offers only these)."""
    offered = []
    if has_role(user, Role.QA_REVIEWER) and batch.status == BatchStatus.QUARANTINE:
        offered += [c for c in DecisionForm.DECISIONS if c[0] != "certify"]
    released = batch.status in (BatchStatus.RELEASED, BatchStatus.CONDITIONALLY_RELEASED)
    if has_role(user, Role.QUALIFIED_PERSON) and released and "QP certification" in release.release_outstanding(batch):
        offered += [c for c in DecisionForm.DECISIONS if c[0] == "certify"]
    return offered


def decide(user: User, batch: Batch, data: dict[str, Any]) -> BatchDisposition:
    common = {
        "actor": user,
        "batch_id": batch.pk,
        "password": data["password"],
        "otp_token": data.get("otp_token", ""),
    }
    match data["decision"]:
        case "release":
            return release.batch_release(**common, comment=data["comment"])
        case "release_conditionally":
            return release.batch_release_conditionally(
                **common, positive_result_plan=data["positive_result_plan"], comment=data["comment"]
            )
        case "reject":
            return release.batch_reject(**common, reason=data["comment"])
        case _:
            return release.batch_certify(**common, comment=data["comment"])


@admin.register(Review)
class ReviewAdmin(RoleGatedAdmin):
    list_display = ["batch_number", "patient", "status", "flag"]
    list_filter = ["status"]
    search_fields = ["batch_number", "din"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        return super().get_queryset(request).filter(status__in=REVIEW_STATES).select_related("patient")

    @admin.display(description="late-result flag")
    def flag(self, obj: Batch) -> str:
        alerts = batch_alerts(obj)
        if not alerts:
            return "—"
        return format_html('<strong style="color:#b00020">⚑ {}</strong>', ", ".join(d.number for d in alerts))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.review_view)
        return [path("<int:batch_id>/", view, name="qc_review_batch"), *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:qc_review_batch", args=[object_id]))

    def review_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = Batch.objects.select_related("process_definition", "patient").filter(pk=batch_id).first()
        if batch is None:
            raise Http404("No such batch.")
        form = DecisionForm(request.POST or None, signer=acting_user(request))
        if request.method == "POST" and form.is_valid():
            try:
                disposition = decide(acting_user(request), batch, form.cleaned_data)
            except (ValidationError, PermissionDenied, ObjectDoesNotExist) as error:
                form.add_error(None, error.messages if isinstance(error, ValidationError) else str(error))
            else:
                messages.success(request, f"Batch {batch.batch_number}: {disposition.get_decision_display().lower()}.")
                return HttpResponseRedirect(reverse("admin:qc_review_batch", args=[batch.pk]))
        gate = release_gate(batch, releaser=acting_user(request))
        offered = open_decisions(acting_user(request), batch)
        if not form.is_bound:
            # A refused POST keeps every choice (the service said why); a fresh form offers only what is open.
            decision = form.fields["decision"]
            assert isinstance(decision, forms.ChoiceField)
            decision.choices = offered
        context = {
            **self.admin_site.each_context(request),
            "title": f"QA review of batch {batch.batch_number}",
            "opts": self.model._meta,
            "batch": batch,
            "gate": gate,
            "alerts": batch_alerts(batch),
            "form": form,
            "show_form": bool(offered) or form.is_bound,
            "links": self.page_links(request, batch),
            "gcsf": batch.gcsf_administrations.select_related("performed_by", "verified_by").order_by("day"),
            "apheresis": getattr(batch, "apheresis", None),
            "selection": getattr(batch, "selection", None),
            "samples": QcSample.objects.filter(batch=batch).select_related("taken_by"),
            "deviations": Deviation.objects.filter(batch=batch).order_by("raised_at"),
            "signatures": ElectronicSignature.objects.filter(batch=batch).select_related("content_type"),
            "transitions": batch.transitions.select_related("actor"),
            "dispositions": BatchDisposition.objects.filter(batch=batch).select_related("decided_by"),
            "notifications": Notification.objects.filter(batch=batch),
        }
        return TemplateResponse(request, "qc/review.html", context)

    def page_links(self, request: HttpRequest, batch: Batch) -> list[tuple[str, str]]:
        """The batch page, and the audit trail and delivery desk for those who may open them."""
        links = [("Batch page", reverse("admin:batches_batch_change", args=[batch.pk]))]
        if has_role(request.user, Role.AUDITOR, Role.QA_REVIEWER, Role.QUALIFIED_PERSON):
            links.append(("Audit trail", reverse("admin:batches_batch_audit", args=[batch.pk])))
        if batch.status not in ("processing", "rejected", "cancelled"):
            links.append(("Delivery desk", reverse("admin:batches_delivery_desk", args=[batch.pk])))
        return links


register_batch_link(
    section=QA_REVIEW,
    label="QA review: exceptions first, QC results, disposition",
    url=lambda batch: reverse("admin:qc_review_batch", args=[batch.pk]),
    roles=REVIEW_LINK_ROLES,
    when=lambda batch: batch.status in REVIEW_STATES,
)

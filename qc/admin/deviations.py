"""Admin pages for deviations: raise, record the investigation, close with QA's signature."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import SigningForm
from batches.models import Batch
from batches.roles import Role
from batches.web import acting_user
from qc.admin.common import PasswordField, RecordAction, RoleGatedAdmin, service_form_view
from qc.models import Classification, Deviation, DeviationKind
from qc.services import deviations


class OpenForm(forms.Form):
    batch = forms.ModelChoiceField(queryset=Batch.objects.exclude(status="cancelled"))
    kind = forms.ChoiceField(choices=[(DeviationKind.PLANNED, _("Planned")), (DeviationKind.UNPLANNED, _("Unplanned"))])
    classification = forms.ChoiceField(choices=Classification.choices)
    description = forms.CharField(max_length=limits.DESCRIPTION, widget=forms.Textarea(attrs={"rows": 4}))


class UpdateForm(forms.Form):
    investigation = forms.CharField(
        max_length=limits.NARRATIVE, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    root_cause = forms.CharField(max_length=limits.NARRATIVE, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    impact = forms.CharField(max_length=limits.NARRATIVE, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    capa = forms.CharField(
        label=_("CAPA"), max_length=limits.NARRATIVE, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    disposal = forms.CharField(
        label=_("Disposal of the product"),
        max_length=limits.NARRATIVE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For a rejected batch: how, when and by whom the product was destroyed or returned."),
    )
    reason = forms.CharField(
        max_length=limits.REASON,
        required=False,
        help_text=_("Required when changing recorded text."),
    )


class ReclassifyForm(SigningForm):
    classification = forms.ChoiceField(choices=Classification.choices)
    reason = forms.CharField(max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 2}))
    password = PasswordField()


class CloseForm(SigningForm):
    closure_summary = forms.CharField(max_length=limits.NARRATIVE, widget=forms.Textarea(attrs={"rows": 3}))
    password = PasswordField()


@admin.register(Deviation)
class DeviationAdmin(RoleGatedAdmin):
    write_roles = (Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.QA_REVIEWER)
    list_display = ["number", "batch", "kind", "classification", "status", "raised_after_release", "raised_at"]
    list_filter = ["status", "classification", "kind", "raised_after_release"]
    list_select_related = ["batch"]
    search_fields = ["number", "batch__batch_number", "description"]
    readonly_fields = ["actions_links"]

    def record_actions(self, obj: Deviation) -> list[RecordAction]:
        if not obj.is_open:
            return []
        return [
            RecordAction(_("Record the investigation"), "qc_deviation_update", deviations.RAISE_ROLES),
            RecordAction(_("Reclassify"), "qc_deviation_reclassify", (Role.QA_REVIEWER,)),
            RecordAction(_("Close the deviation"), "qc_deviation_close", (Role.QA_REVIEWER,)),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.guard_add(request)

        def call(data: dict[str, Any]) -> Deviation:
            return deviations.deviation_open(
                actor=acting_user(request),
                batch_id=data["batch"].pk,
                kind=data["kind"],
                classification=data["classification"],
                description=data["description"],
            )

        return service_form_view(
            self,
            request,
            form_class=OpenForm,
            title=gettext("Raise deviation"),
            call=call,
            success_url=lambda d: reverse("admin:qc_deviation_change", args=[d.pk]),
            initial={"batch": request.GET.get("batch")},
        )

    def update_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        deviation = get_object_or_404(Deviation, pk=pk)
        fields = ("investigation", "root_cause", "impact", "capa", "disposal")

        def call(data: dict[str, Any]) -> Deviation:
            values = {f: data[f] for f in fields if data[f] != (getattr(deviation, f) or "")}
            return deviations.deviation_update(
                actor=acting_user(request),
                deviation_id=pk,
                values=values,
                reason=data["reason"],
            )

        return service_form_view(
            self,
            request,
            form_class=UpdateForm,
            title=gettext("Investigation of %(number)s") % {"number": deviation.number},
            intro=deviation.description,
            call=call,
            success_url=lambda d: reverse("admin:qc_deviation_change", args=[d.pk]),
            initial={f: getattr(deviation, f) for f in fields},
        )

    def reclassify_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        deviation = get_object_or_404(Deviation, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=ReclassifyForm,
            title=gettext("Reclassify %(number)s (now %(get_classification_display)s)")
            % {
                "number": deviation.number,
                "get_classification_display": deviation.get_classification_display().lower(),
            },
            intro=gettext(
                "A release-critical change: QA's reason and signature; listed on the review page and the decision."
            ),
            call=lambda d: deviations.deviation_reclassify(
                actor=acting_user(request),
                deviation_id=pk,
                classification=d["classification"],
                reason=d["reason"],
                password=d["password"],
                otp_token=d.get("otp_token", ""),
            ),
            success_url=lambda change: reverse("admin:qc_deviation_change", args=[change.deviation_id]),
        )

    def close_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        deviation = get_object_or_404(Deviation, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=CloseForm,
            title=gettext("Close %(number)s") % {"number": deviation.number},
            intro=gettext("QA approves the investigation and closes the deviation; this is an electronic signature."),
            call=lambda d: deviations.deviation_close(
                actor=acting_user(request),
                deviation_id=pk,
                password=d["password"],
                otp_token=d.get("otp_token", ""),
                closure_summary=d["closure_summary"],
            ),
            success_url=lambda d: reverse("admin:qc_deviation_change", args=[d.pk]),
        )

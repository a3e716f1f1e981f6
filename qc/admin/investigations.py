"""Admin pages for OOS investigations (record, approve a retest, close) and reportability assessments."""

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
from batches.roles import Role
from batches.web import acting_user
from qc.admin.common import PasswordField, RecordAction, RoleGatedAdmin, service_form_view
from qc.models import OosInvestigation, PlanKind, ReportabilityAssessment, ReportabilityStatus
from qc.services import investigations, reportability

LAB_OUTCOME = [("", "Not decided yet"), ("yes", "Yes: assignable laboratory error"), ("no", "No: go to phase II")]


def _text(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        max_length=limits.NARRATIVE, required=False, widget=forms.Textarea(attrs={"rows": 3}), **kwargs
    )


class RecordForm(forms.Form):
    hypotheses = _text()
    laboratory_error = forms.ChoiceField(choices=LAB_OUTCOME, required=False, label=_("Laboratory error found?"))
    assignable_cause = _text()
    conclusion = _text()
    reason = forms.CharField(max_length=limits.REASON, required=False, help_text=_("Required to change recorded text."))


class ApproveForm(SigningForm):
    kind = forms.ChoiceField(choices=PlanKind.choices)
    plan = forms.CharField(max_length=limits.DESCRIPTION, widget=forms.Textarea(attrs={"rows": 3}))
    password = PasswordField()


class CloseForm(SigningForm):
    password = PasswordField()


@admin.register(OosInvestigation)
class OosInvestigationAdmin(RoleGatedAdmin):
    write_roles = (Role.QC_ANALYST, Role.QA_REVIEWER)
    list_display = ["deviation", "batch", "result", "phase", "status", "opened_at"]
    list_filter = ["status", "phase"]
    list_select_related = ["deviation", "batch", "result"]
    search_fields = ["deviation__number", "batch__batch_number"]
    readonly_fields = ["actions_links"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an OOS result opens its investigation

    def record_actions(self, obj: OosInvestigation) -> list[RecordAction]:
        if not obj.is_open:
            return []
        return [
            RecordAction(_("Record the investigation"), "qc_oosinvestigation_record", investigations.WORK_ROLES),
            RecordAction(_("Approve a retest"), "qc_oosinvestigation_approve", (Role.QA_REVIEWER,)),
            RecordAction(_("Close the investigation"), "qc_oosinvestigation_close", (Role.QA_REVIEWER,)),
        ]

    def record_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.guard_view(request)
        found = get_object_or_404(OosInvestigation, pk=pk)
        outcome = {True: "yes", False: "no", None: ""}[found.laboratory_error]

        def call(data: dict[str, Any]) -> OosInvestigation:
            return investigations.investigation_record(
                actor=acting_user(request),
                investigation_id=pk,
                hypotheses=data["hypotheses"],
                laboratory_error={"yes": True, "no": False}.get(data["laboratory_error"]),
                assignable_cause=data["assignable_cause"],
                conclusion=data["conclusion"],
                reason=data["reason"],
            )

        return service_form_view(
            self,
            request,
            form_class=RecordForm,
            title=gettext("OOS investigation of %(number)s (%(phase)s)")
            % {"number": found.deviation.number, "phase": found.get_phase_display()},
            intro=found.deviation.description,
            call=call,
            success_url=lambda i: reverse("admin:qc_oosinvestigation_change", args=[i.pk]),
            initial={
                "hypotheses": found.hypotheses,
                "laboratory_error": outcome,
                "assignable_cause": found.assignable_cause,
                "conclusion": found.conclusion,
            },
        )

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.guard_view(request)
        found = get_object_or_404(OosInvestigation, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=ApproveForm,
            title=gettext("Approve a retest under %(number)s") % {"number": found.deviation.number},
            intro=gettext("QA's signed approval; only then may the test be repeated under this investigation."),
            call=lambda d: investigations.retest_approve(
                actor=acting_user(request),
                investigation_id=pk,
                kind=d["kind"],
                plan=d["plan"],
                password=d["password"],
                otp_token=d.get("otp_token", ""),
            ),
            success_url=lambda a: reverse("admin:qc_oosinvestigation_change", args=[a.investigation_id]),
        )

    def close_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.guard_view(request)
        found = get_object_or_404(OosInvestigation, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=CloseForm,
            title=gettext("Close the OOS investigation of %(number)s") % {"number": found.deviation.number},
            intro=gettext("Conclusion: %(conclusion)s")
            % {"conclusion": found.conclusion or gettext("(none recorded)")},
            call=lambda d: investigations.investigation_close(
                actor=acting_user(request),
                investigation_id=pk,
                password=d["password"],
                otp_token=d.get("otp_token", ""),
            ),
            success_url=lambda i: reverse("admin:qc_oosinvestigation_change", args=[i.pk]),
        )


class AssessForm(forms.Form):
    reportable = forms.TypedChoiceField(
        choices=[("yes", _("Reportable")), ("no", _("Not reportable"))], coerce=lambda v: v == "yes"
    )
    rule = forms.CharField(max_length=limits.NAME)
    rationale = forms.CharField(max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 3}))
    due_date = forms.DateField(required=False)


class SubmitForm(forms.Form):
    submitted_at = forms.DateTimeField()
    reference = forms.CharField(max_length=limits.NAME)


@admin.register(ReportabilityAssessment)
class ReportabilityAdmin(RoleGatedAdmin):
    write_roles = (Role.QA_REVIEWER,)
    list_display = ["deviation", "batch", "status", "due_date", "reportable", "rule", "submitted_at"]
    list_filter = ["status", "reportable"]
    list_select_related = ["deviation", "batch"]
    readonly_fields = ["actions_links"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened with the critical deviation of a late result

    def record_actions(self, obj: ReportabilityAssessment) -> list[RecordAction]:
        qa = (Role.QA_REVIEWER,)
        if obj.status == ReportabilityStatus.OPEN:
            return [RecordAction(_("Assess the reportability"), "qc_reportabilityassessment_assess", qa)]
        if obj.status == ReportabilityStatus.TO_SUBMIT:
            return [RecordAction(_("Record the submission"), "qc_reportabilityassessment_submit", qa)]
        return []

    def assess_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.guard_view(request)
        found = get_object_or_404(ReportabilityAssessment, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=AssessForm,
            title=gettext("Reportability of %(number)s (due %(d)s)")
            % {"number": found.deviation.number, "d": f"{found.due_date:%Y-%m-%d}"},
            intro=found.deviation.description,
            call=lambda d: reportability.reportability_assess(
                actor=acting_user(request),
                assessment_id=pk,
                reportable=d["reportable"],
                rule=d["rule"],
                rationale=d["rationale"],
                due_date=d["due_date"],
            ),
            success_url=lambda a: reverse("admin:qc_reportabilityassessment_change", args=[a.pk]),
            initial={"due_date": found.due_date},
        )

    def submit_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.guard_view(request)
        found = get_object_or_404(ReportabilityAssessment, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=SubmitForm,
            title=gettext("Submission of the report on %(number)s") % {"number": found.deviation.number},
            call=lambda d: reportability.reportability_submit(
                actor=acting_user(request), assessment_id=pk, submitted_at=d["submitted_at"], reference=d["reference"]
            ),
            success_url=lambda a: reverse("admin:qc_reportabilityassessment_change", args=[a.pk]),
        )

"""Admin pages for QC entry: samples, results (verdict computed and shown), second-person review."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import formatting, limits
from batches.admin.common import SigningForm, datetime_widget, zone_hint
from batches.admin.forms import scan_field, scanned_codes
from batches.models import Batch
from batches.roles import Role
from batches.web import acting_user
from qc.admin.common import PasswordField, RoleGatedAdmin, service_form_view
from qc.evaluation import COMPUTED_TESTS, TEST_LABELS, QcTest
from qc.models import Deviation, QcResult, QcSample, SampleStep
from qc.services.testing import qc_result_record, qc_result_review, qc_sample_record


class SampleForm(forms.Form):
    batch = forms.ModelChoiceField(queryset=Batch.objects.filter(status__in=["collection", "processing", "quarantine"]))
    step = forms.ChoiceField(choices=SampleStep.choices)
    sample_code = forms.CharField(max_length=40)
    taken_at = forms.DateTimeField(
        widget=datetime_widget(), help_text="Local time (the server's zone); not in the future."
    )
    volume_ml = forms.DecimalField(
        label="Volume drawn (mL)",
        min_value=0,
        max_digits=5,
        decimal_places=1,
        initial=0,
        help_text="Taken out of the product: the infusion is checked against what remains.",
    )
    late_entry_reason = forms.CharField(
        max_length=limits.REASON, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ResultForm(SigningForm):
    sample = forms.ModelChoiceField(queryset=QcSample.objects.select_related("batch"))
    test = forms.ChoiceField(choices=[(t.value, TEST_LABELS[t]) for t in QcTest if t not in COMPUTED_TESTS])
    value = forms.CharField(max_length=40, help_text=_("A number, or the outcome (e.g. 'no growth')."))
    unit = forms.CharField(
        max_length=20, required=False, help_text="As in the specification (%, EU/mL); empty for outcomes."
    )
    method = forms.CharField(max_length=120, required=False, help_text=_("Defaults to the specification's method."))
    instrument = forms.CharField(max_length=120, required=False)
    equipment = scan_field("Instruments (scan each)", "One equipment barcode per line, e.g. FC-01.")
    tested_at = forms.DateTimeField(widget=datetime_widget(), help_text=zone_hint())
    investigation = forms.ModelChoiceField(
        queryset=Deviation.objects.filter(status="open"), required=False, help_text=_("Required for a repeat test.")
    )
    late_entry_reason = forms.CharField(
        max_length=limits.REASON, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    preliminary_reason = forms.CharField(
        label="Preliminary result: reason",
        max_length=limits.REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only for a reading before the method's minimum duration (process definition); QA sees it.",
    )
    password = PasswordField()


class SignForm(SigningForm):
    password = PasswordField()


@admin.register(QcSample)
class QcSampleAdmin(RoleGatedAdmin):
    write_roles = (Role.QC_ANALYST, Role.OPERATOR)
    list_display = ["sample_code", "batch", "step", "taken_at", "taken_by"]
    list_filter = ["step"]
    list_select_related = ["batch", "taken_by"]
    search_fields = ["sample_code", "batch__batch_number"]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.guard_add(request)

        def call(data: dict[str, Any]) -> QcSample:
            return qc_sample_record(
                actor=acting_user(request),
                batch_id=data["batch"].pk,
                step=data["step"],
                sample_code=data["sample_code"],
                taken_at=data["taken_at"],
                volume_ml=data["volume_ml"],
                late_entry_reason=data["late_entry_reason"],
            )

        return service_form_view(
            self,
            request,
            form_class=SampleForm,
            title=gettext("Record QC sample"),
            call=call,
            # The sample's page, where its results are recorded (one signature for all of them).
            success_url=lambda s: reverse("admin:qc_sample_results", args=[s.pk]),
            initial={
                "batch": request.GET.get("batch"),
                "taken_at": timezone.localtime().replace(microsecond=0),
                "step": SampleStep.FINAL_PRODUCT,
            },
        )


@admin.register(QcResult)
class QcResultAdmin(RoleGatedAdmin):
    write_roles = (Role.QC_ANALYST,)
    list_display = ["batch", "test", "display_value", "verdict_badge", "analyst", "verified_by", "recorded_at"]
    list_filter = ["test", "verdict", "recorded_after_release"]
    list_select_related = ["batch", "analyst", "verified_by"]
    search_fields = ["batch__batch_number", "sample__sample_code"]
    readonly_fields = ["verdict_badge", "review_link"]

    @admin.display(description=_("verdict (computed)"))
    def verdict_badge(self, obj: QcResult) -> str:
        colour = {"pass": "#1b7f3b", "oos": "#b00020"}.get(obj.verdict, "#555")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_verdict_display())

    @admin.display(description=_("second-person review"))
    def review_link(self, obj: QcResult) -> str:
        if obj.is_verified:
            return format_html(gettext("Reviewed by {} at {}"), obj.verified_by, formatting.moment(obj.verified_at))
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:qc_qcresult_review", args=[obj.pk]), gettext("Review this result")
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.guard_add(request)

        def call(data: dict[str, Any]) -> QcResult:
            return qc_result_record(
                actor=acting_user(request),
                sample_id=data["sample"].pk,
                test=data["test"],
                value=data["value"],
                unit=data["unit"],
                method=data["method"],
                instrument=data["instrument"],
                equipment=scanned_codes(data["equipment"]),
                tested_at=data["tested_at"],
                password=data["password"],
                otp_token=data.get("otp_token", ""),
                investigation_id=data["investigation"].pk if data["investigation"] else None,
                late_entry_reason=data["late_entry_reason"],
                preliminary_reason=data["preliminary_reason"],
            )

        return service_form_view(
            self,
            request,
            form_class=ResultForm,
            title=gettext("Record QC result"),
            intro=gettext(
                "The verdict is computed against the batch's specification; an OOS result opens a deviation."
            ),
            call=call,
            success_url=lambda r: reverse("admin:qc_qcresult_change", args=[r.pk]),
            initial={"sample": request.GET.get("sample")},
        )

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        result = get_object_or_404(QcResult.objects.select_related("batch"), pk=pk)
        return service_form_view(
            self,
            request,
            form_class=SignForm,
            title=gettext("Review %(result)s") % {"result": result},
            intro=gettext("Verdict (computed): %(verdict)s. Recorded by %(analyst)s.")
            % {"verdict": result.get_verdict_display(), "analyst": result.analyst},
            call=lambda d: qc_result_review(
                reviewer=acting_user(request),
                result_id=pk,
                password=d["password"],
                otp_token=d.get("otp_token", ""),
            ),
            success_url=lambda r: reverse("admin:qc_qcresult_change", args=[r.pk]),
        )

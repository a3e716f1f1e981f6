"""A QC sample's page (/admin/qc/qcsample/<id>/results/): its results against the specification, a form that
records the missing ones in one signed act, and a form that reviews the open ones in one signed act.

Units and methods come from the batch's specification, the instrument from the last result of the same
test; the analyst types values. Each form calls one service (qc.services.sample_results).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from batches import limits
from batches.admin.common import SigningForm, datetime_widget, zone_hint
from batches.models import Batch
from batches.roles import Role, has_role, may_act
from batches.web import READ_ROLES, SERVICE_ERRORS, acting_user, add_service_error, submitted_once
from qc.admin.common import PasswordField
from qc.evaluation import COMPUTED_TESTS, TEST_LABELS, QcTest
from qc.models import QcResult, QcSample, SampleStep, SpecificationLimit
from qc.queries import specification_for_batch
from qc.services.sample_results import qc_results_review, qc_sample_results_record


class SampleResultsForm(SigningForm):
    """One row per test still without a result: value (unit and instrument prefilled), then one signature."""

    tested_at = forms.DateTimeField(
        label=gettext_lazy("Tested at"),
        widget=datetime_widget(),
    )
    late_entry_reason = forms.CharField(
        label=gettext_lazy("Late-entry reason"),
        max_length=limits.REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Only when the tests were done long ago."),
    )
    preliminary_reason = forms.CharField(
        label=gettext_lazy("Preliminary reading: reason"),
        max_length=limits.REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Only for a result read before its method's minimum duration (e.g. a culture before day 14): "
            "it is recorded as preliminary, an exception for QA."
        ),
    )
    password = PasswordField()

    def __init__(
        self, *args: Any, open_limits: list[SpecificationLimit], new_sample: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.new_sample = new_sample
        if new_sample:  # the sample is recorded in the same act, before its results
            self.fields = {
                "sample_code": forms.CharField(label=_("Sample code"), max_length=40),
                "step": forms.ChoiceField(
                    label=_("Sampled at"),
                    choices=[(step, _(label)) for step, label in SampleStep.choices],
                    initial=SampleStep.FINAL_PRODUCT,
                ),
                "taken_at": forms.DateTimeField(label=_("Taken at"), widget=datetime_widget(), help_text=zone_hint()),
                **self.fields,
            }
        self.fields["tested_at"].help_text = zone_hint(_("Not in the future."))
        self.tests: list[tuple[str, str, str]] = []  # (test, label, the limit in words)
        rows: dict[str, forms.Field] = {}
        for limit in open_limits:
            test, label = limit.test, _(TEST_LABELS[QcTest(limit.test)])
            self.tests.append((test, label, limit.as_limit().describe()))
            hint = limit.expected_result or _("a number")
            rows[f"{test}-value"] = forms.CharField(
                label=label, max_length=40, required=False, help_text=_("Result (%(hint)s)") % {"hint": hint}
            )
            if not limit.is_categorical:
                rows[f"{test}-unit"] = forms.CharField(
                    label=_("%(test)s: unit") % {"test": label}, max_length=20, initial=limit.unit
                )
            last = QcResult.objects.filter(test=test).exclude(instrument="").order_by("-pk").first()
            rows[f"{test}-instrument"] = forms.CharField(
                label=_("%(test)s: instrument") % {"test": label},
                max_length=120,
                required=False,
                initial=last.instrument if last else "",
            )
        self.fields = {**rows, **self.fields}

    def table(self) -> list[tuple[str, str, str, list[forms.BoundField | None]]]:
        """(test, label, limit, [value, unit, instrument]) per row, for the entry table."""
        return [
            (
                test,
                label,
                limit,
                [
                    self[n] if n in self.fields else None
                    for n in (f"{test}-value", f"{test}-unit", f"{test}-instrument")
                ],
            )
            for test, label, limit in self.tests
        ]

    def sample_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("sample_code", "step", "taken_at")] if self.new_sample else []

    def common_fields(self) -> list[forms.BoundField]:
        return [self["tested_at"], self["late_entry_reason"], self["preliminary_reason"]]

    def rows(self) -> list[dict[str, Any]]:
        """The filled rows as qc_result_record's arguments."""
        data = self.cleaned_data
        return [
            {
                "test": test,
                "value": data[f"{test}-value"].strip(),
                "unit": data.get(f"{test}-unit", ""),
                "instrument": data[f"{test}-instrument"],
                "preliminary_reason": data["preliminary_reason"],  # used only for a row read too early
            }
            for test, _label, _limit in self.tests
            if data.get(f"{test}-value", "").strip()
        ]


class ReviewAllForm(SigningForm):
    password = PasswordField()


def _open_limits(batch: Batch) -> list[SpecificationLimit]:
    specification = specification_for_batch(batch)
    if specification is None:
        return []
    done = set(QcResult.objects.filter(batch=batch).values_list("test", flat=True))
    return [
        limit
        for limit in specification.limits.order_by("pk")
        if limit.test not in done and QcTest(limit.test) not in COMPUTED_TESTS
    ]


def sample_results(request: HttpRequest, pk: int) -> HttpResponse:
    """An existing sample: record its missing results, review its open ones."""
    sample = get_object_or_404(QcSample.objects.select_related("batch", "taken_by"), pk=pk)
    return _results_page(request, sample.batch, sample)


def batch_results(request: HttpRequest, batch_id: int) -> HttpResponse:
    """A new sample of the batch and its results, recorded in one act."""
    return _results_page(request, get_object_or_404(Batch, pk=batch_id), None)


def _results_page(request: HttpRequest, batch: Batch, sample: QcSample | None) -> HttpResponse:
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied(_("QC samples need a CellBatch role."))
    user = acting_user(request)
    open_limits = _open_limits(batch)
    record = review = None
    now = timezone.localtime().replace(microsecond=0)
    if may_act(user, Role.QC_ANALYST) and open_limits:
        posted = request.POST if request.POST.get("form") == "record" else None
        record = SampleResultsForm(
            posted,
            initial={"tested_at": now, "taken_at": now},
            open_limits=open_limits,
            new_sample=sample is None,
            signer=user,
        )
    # A sample's page reviews that sample's results; the batch's page (the batch page posts here) all of them.
    unreviewed = QcResult.objects.filter(
        verified_by__isnull=True, **({"sample": sample} if sample else {"batch": batch})
    )
    if may_act(user, Role.VERIFIER) and unreviewed.exists():
        review = ReviewAllForm(request.POST if request.POST.get("form") == "review" else None, signer=user)
    if request.method == "POST":
        done = _submit(request, batch, sample, record, review)
        if done is not None:
            messages.success(request, done[0])
            if sample is None and request.POST.get("form") == "review":
                return HttpResponseRedirect(reverse("admin:batches_batch_change", args=[batch.pk]))
            return HttpResponseRedirect(reverse("admin:qc_sample_results", args=[done[1]]))
        messages.error(request, _("Nothing was signed: see the form below."))
    title = _("QC sample %(code)s") % {"code": sample.sample_code} if sample else _("New QC sample")
    context = {
        **admin.site.each_context(request),
        "title": title,
        "opts": QcSample._meta,
        "sample": sample,
        "batch": batch,
        "results": QcResult.objects.filter(sample=sample).select_related("analyst", "verified_by").order_by("pk")
        if sample
        else [],
        "record_form": record,
        "review_form": review,
        "unreviewed": unreviewed.count(),
        "batch_url": reverse("admin:batches_batch_change", args=[batch.pk]),
    }
    return TemplateResponse(request, "qc/sample_results.html", context)


def _submit(
    request: HttpRequest,
    batch: Batch,
    sample: QcSample | None,
    record: SampleResultsForm | None,
    review: ReviewAllForm | None,
) -> tuple[str, int] | None:
    """Call the posted form's service: (message, sample id) on success, None (the form carries the refusal)."""
    user = acting_user(request)
    form: SigningForm | None = record if request.POST.get("form") == "record" else review
    if form is None:
        raise PermissionDenied(_("That form is not open to you for this sample now."))
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        with submitted_once(request):
            if isinstance(form, SampleResultsForm):
                manifest = qc_sample_results_record(
                    actor=user,
                    sample_id=sample.pk if sample else None,
                    new_sample=None
                    if sample
                    else {
                        "batch_id": batch.pk,
                        "step": data["step"],
                        "sample_code": data["sample_code"],
                        "taken_at": data["taken_at"],
                    },
                    results=form.rows(),
                    tested_at=data["tested_at"],
                    late_entry_reason=data["late_entry_reason"],
                    password=data["password"],
                    otp_token=form.one_time_code(),
                )
            else:
                manifest = qc_results_review(
                    actor=user,
                    batch_id=batch.pk,
                    sample_id=sample.pk if sample else None,
                    password=data["password"],
                    otp_token=form.one_time_code(),
                )
    except SERVICE_ERRORS as error:
        add_service_error(form, error)
        return None
    signed = manifest.signatures.select_related("content_type").first()
    sample_id = sample.pk if sample else QcResult.objects.get(pk=signed.object_id).sample_id if signed else 0
    message = _("%(statement)s: %(count)s records signed with one signature.") % {
        "statement": manifest.statement,
        "count": len(manifest.entries),
    }
    return message, sample_id

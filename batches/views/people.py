"""People pages: the training matrix (people × procedures, gaps and upcoming lapses, CSV export) and the
periodic access review that QA signs."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import PasswordForm
from batches.competence import MatrixRow, training_matrix
from batches.models import AccessReview, DocumentVersion
from batches.personal import SIGNING_ROLES
from batches.roles import Domain, Role, require_role
from batches.services.people import access_report, access_review_sign
from batches.web import SERVICE_ERRORS, acting_user, add_service_error

MATRIX_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)


def _matrix(request: HttpRequest) -> tuple[list[DocumentVersion], list[MatrixRow]]:
    require_role(acting_user(request), *MATRIX_ROLES, action="Reading the training matrix", domain=Domain.RECORDS)
    people = list(
        User.objects.filter(is_active=True, groups__name__in=SIGNING_ROLES).distinct().order_by("last_name", "username")
    )
    return training_matrix(people)


def training_matrix_page(request: HttpRequest) -> HttpResponse:
    versions, rows = _matrix(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Training matrix"),
        "versions": versions,
        "rows": rows,
        "today": timezone.localdate(),
    }
    return TemplateResponse(request, "batches/people/training_matrix.html", context)


def training_matrix_export(request: HttpRequest) -> HttpResponse:
    versions, rows = _matrix(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user ID", "name", *(f"{v} {v.document.title}" for v in versions), "upcoming versions"])
    for row in rows:
        cells = [f"{c.state}: {c.detail}" for c in row.cells]
        writer.writerow([row.user.username, row.user.get_full_name(), *cells, "; ".join(str(u) for u in row.upcoming)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="training-matrix-{timezone.localdate()}.csv"'
    return response


class AccessReviewForm(PasswordForm):
    findings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=limits.NARRATIVE,
        help_text=_("What you found (accounts to deactivate, roles to withdraw, training gaps) and what follows."),
    )


def access_review_page(request: HttpRequest) -> HttpResponse:
    reviewer = acting_user(request)
    require_role(reviewer, Role.QA_REVIEWER, action="The access review", domain=Domain.ACCOUNTS)
    form = AccessReviewForm(request.POST or None, signer=reviewer)
    if request.method == "POST" and form.is_valid():
        try:
            review = access_review_sign(
                reviewer=reviewer,
                findings=form.cleaned_data["findings"],
                password=form.cleaned_data["password"],
                otp_token=form.one_time_code(),
            )
        except SERVICE_ERRORS as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Access review #{review.pk} signed and kept.")
            return HttpResponseRedirect(reverse("admin:batches_access_review"))
    context = {
        **admin.site.each_context(request),
        "title": _("Periodic access review"),
        "report": access_report(),
        "reviews": AccessReview.objects.select_related("reviewed_by")[:20],
        "form": form,
    }
    return TemplateResponse(request, "batches/people/access_review.html", context)

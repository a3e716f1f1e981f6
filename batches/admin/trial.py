"""Clinical trials in the admin: recorded through the service, read-only afterwards (a new PSF version or
protocol is a new record), chosen by a process definition's draft.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import GmpModelAdmin
from batches.models import ClinicalTrial
from batches.roles import Domain
from batches.services.trial import TRIAL_FIELDS, TRIAL_ROLES, clinical_trial_create
from batches.web import SERVICE_ERRORS, acting_user, add_service_error, submitted_once


class TrialForm(forms.Form):
    eu_ct_number = forms.CharField(label=_("EU CT number"), max_length=20)
    protocol = forms.CharField(max_length=limits.NAME)
    sponsor = forms.CharField(max_length=limits.NAME)
    sites = forms.CharField(
        label=_("Investigational sites"), max_length=limits.DESCRIPTION, widget=forms.Textarea(attrs={"rows": 3})
    )
    psf_reference = forms.CharField(
        label=_("Product specification file (reference and version)"), max_length=limits.NAME
    )


@admin.register(ClinicalTrial)
class ClinicalTrialAdmin(GmpModelAdmin[ClinicalTrial]):
    add_roles = TRIAL_ROLES
    add_domain = Domain.MASTER_DATA
    list_display = ["eu_ct_number", "protocol", "sponsor", "psf_reference", "created_at"]
    search_fields = ["eu_ct_number", "protocol", "sponsor"]
    readonly_fields = [*TRIAL_FIELDS, "created_by", "created_at"]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied(
                "Recording a clinical trial requires the role QA reviewer, Qualified Person or admin."
            )
        form = TrialForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    trial = clinical_trial_create(actor=acting_user(request), values=form.cleaned_data)
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{trial} recorded.")
                return redirect(reverse("admin:batches_clinicaltrial_changelist"))
        return self.render_service_form(
            request, form, title=gettext("Record a clinical trial"), submit=gettext("Record")
        )

"""Patient imports in the admin: upload a legacy register's CSV (staged, reconciled), QA sign-off."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import GmpModelAdmin, PasswordForm
from batches.models import ImportStatus, PatientImport, PatientImportRow
from batches.roles import Role, has_role
from batches.services.patient_import import COLUMNS, MAX_BYTES, patient_import_sign_off, patient_import_stage
from batches.web import READ_ROLES, SERVICE_ERRORS, acting_user, add_service_error, submitted_once


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"), help_text=f"UTF-8, header: {', '.join(COLUMNS)}; at most {MAX_BYTES:,} bytes."
    )
    register = forms.CharField(max_length=limits.NAME, label=_("Legacy register the file was exported from"))
    reason = forms.CharField(max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 2}))


class ImportSignOffForm(PasswordForm):
    confirm = forms.BooleanField(
        label=_("I have reviewed the reconciliation and every rejected line; create the new patients."), required=True
    )


class PatientImportRowInline(admin.TabularInline[PatientImportRow, PatientImport]):
    model = PatientImportRow
    fields = ("line", "subject_code", "outcome", "message", "raw", "patient")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PatientImport)
class PatientImportAdmin(GmpModelAdmin[PatientImport]):
    """Staged imports with their reconciliation; the new patients exist only after QA signs off."""

    add_roles = (Role.OPERATOR, Role.CLINICIAN)
    list_display = ["__str__", "register", "status", "lines", "new", "matched", "conflicts", "rejected", "staged_by"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in PatientImport._meta.concrete_fields if f.name != "id"] + ["sign_off"]
    inlines = [PatientImportRowInline]

    @admin.display(description=_("QA sign-off"))
    def sign_off(self, obj: PatientImport) -> str:
        if obj.status != ImportStatus.STAGED:
            return "-"
        url = reverse("admin:batches_patientimport_sign_off", args=[obj.pk])
        return format_html('<a href="{}">Sign off this import (QA reviewer)</a>', url)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied(gettext("Importing patients requires the role Operator or Clinician."))
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                with submitted_once(request):
                    staged = patient_import_stage(
                        actor=acting_user(request),
                        data=upload.read(MAX_BYTES + 1),
                        source_name=upload.name,
                        register=form.cleaned_data["register"],
                        reason=form.cleaned_data["reason"],
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    f"Import #{staged.pk} staged: {staged.lines} lines = {staged.new} new + {staged.matched} already "
                    f"registered + {staged.conflicts} conflicting + {staged.rejected} rejected. No patient is "
                    "created until QA signs it off.",
                )
                return redirect(reverse("admin:batches_patientimport_change", args=[staged.pk]))
        return self.render_service_form(
            request,
            form,
            title=gettext("Import patients from a legacy register (dry run and staging)"),
            submit=gettext("Stage"),
        )

    def sign_off_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        staged = self.get_object(request, str(object_id))
        if staged is None or not self.has_view_permission(request, staged):
            raise Http404(gettext("No patient import with id %(object_id)s.") % {"object_id": object_id})
        signer = acting_user(request)
        if not has_role(signer, Role.QA_REVIEWER):
            raise PermissionDenied(gettext("Signing off a patient import requires the role QA reviewer."))
        form = ImportSignOffForm(request.POST or None, signer=signer)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    patient_import_sign_off(
                        actor=signer,
                        import_id=staged.pk,
                        password=form.cleaned_data["password"],
                        otp_token=form.one_time_code(),
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"Import #{staged.pk} signed off: {staged.new} patients created.")
                return redirect(reverse("admin:batches_patientimport_change", args=[staged.pk]))
        return self.render_service_form(
            request,
            form,
            title=gettext("Sign off %(staged)s") % {"staged": staged},
            obj=staged,
            submit=gettext("Sign off and create the patients"),
        )

"""Admin for people: personal identities, the controlled-document register and training records.

Every write goes through a service (batches.services.people, batches.services.training); the lists are
read-only. The training matrix and the access review are pages of their own (batches.views.people).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import formatting, limits
from batches.admin.common import GmpModelAdmin, PasswordForm, date_widget
from batches.models import ApprovalStatus, DocumentVersion, PersonalIdentity, TrainingRecord
from batches.models.training import TrainingMethod
from batches.roles import Domain, Role, has_role
from batches.services.people import identity_set
from batches.services.training import (
    document_version_approve,
    document_version_create,
    training_acknowledge,
    training_record,
)
from batches.web import SERVICE_ERRORS, acting_user, add_service_error, submitted_once

PEOPLE_READERS = (Role.ADMIN, Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)


class IdentityForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.order_by("username"))
    full_name = forms.CharField(max_length=limits.NAME)
    employee_number = forms.CharField(max_length=30)
    email = forms.EmailField()
    reason = forms.CharField(max_length=limits.REASON, initial="identity checked against the HR record")


@admin.register(PersonalIdentity)
class PersonalIdentityAdmin(GmpModelAdmin[PersonalIdentity]):
    list_display = ("user", "full_name", "employee_number", "email", "updated_at")
    search_fields = ("full_name", "employee_number", "email", "user__username")
    add_roles = (Role.ADMIN,)
    add_domain = Domain.ACCOUNTS

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *PEOPLE_READERS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, *PEOPLE_READERS)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404(gettext("Recording a personal identity requires the role System administrator."))
        form = IdentityForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with submitted_once(request):
                    identity_set(
                        actor=acting_user(request),
                        user_id=data["user"].pk,
                        full_name=data["full_name"],
                        employee_number=data["employee_number"],
                        email=data["email"],
                        reason=data["reason"],
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, gettext("Personal identity of %(user)s recorded.") % {"user": data["user"]})
                return redirect(reverse("admin:batches_personalidentity_changelist"))
        return self.render_service_form(request, form, title=gettext("Record the person behind an account"))


class DocumentVersionForm(forms.Form):
    number = forms.CharField(max_length=30, help_text=_("e.g. SOP-MFG-002; a known number drafts its next version."))
    title = forms.CharField(max_length=limits.NAME)
    file = forms.FileField(help_text=_("The approved text (PDF); its SHA-256 is kept."))
    effective_from = forms.DateField(widget=date_widget())
    grace_days = forms.IntegerField(min_value=0, max_value=365, initial=0)
    retraining_interval_days = forms.IntegerField(min_value=1, max_value=3650, required=False)
    supervised_practices_required = forms.IntegerField(min_value=0, max_value=50, initial=0)
    change_summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=limits.DESCRIPTION)


class ConfirmApprovalForm(PasswordForm):
    confirm = forms.BooleanField(label=_("I have reviewed this version and approve it."), required=True)


@admin.register(DocumentVersion)
class DocumentVersionAdmin(GmpModelAdmin[DocumentVersion]):
    list_display = ("__str__", "title", "effective_from", "superseded_on", "status", "approvals", "sha256")
    list_filter = ("status",)
    add_roles = (Role.QA_REVIEWER,)
    add_domain = Domain.MASTER_DATA

    @admin.display(description=_("title"))
    def title(self, obj: DocumentVersion) -> str:
        return obj.document.title

    @admin.display(description=_("approvals"))
    def approvals(self, obj: DocumentVersion) -> str:
        count = int(bool(obj.first_approved_by_id)) + int(bool(obj.second_approved_by_id))
        if obj.status != ApprovalStatus.DRAFT:
            return f"{count} / 2"
        url = reverse("admin:batches_documentversion_approve", args=[obj.pk])
        return format_html('{} / 2 <a href="{}">approve…</a>', count, url)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404(gettext("Drafting a controlled document requires the role QA reviewer."))
        form = DocumentVersionForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with submitted_once(request):
                    version = document_version_create(
                        actor=acting_user(request),
                        number=data["number"],
                        title=data["title"],
                        file_name=data["file"].name,
                        content=data["file"].read(),
                        effective_from=data["effective_from"],
                        grace_days=data["grace_days"],
                        retraining_interval_days=data["retraining_interval_days"],
                        supervised_practices_required=data["supervised_practices_required"],
                        change_summary=data["change_summary"],
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{version} drafted; it needs two approvals.")
                return redirect(reverse("admin:batches_documentversion_changelist"))
        return self.render_service_form(request, form, title=gettext("Draft a controlled document version"))

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = DocumentVersion.objects.filter(pk=pk).select_related("document").first()
        if version is None or not self.has_view_permission(request, version):
            raise Http404(gettext("No document version with id %(pk)s.") % {"pk": pk})
        approver = acting_user(request)
        form = ConfirmApprovalForm(request.POST or None, signer=approver)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    version = document_version_approve(
                        version_id=version.pk,
                        approver=approver,
                        password=form.cleaned_data["password"],
                        otp_token=form.one_time_code(),
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{version}: approval signed; {version.get_status_display().lower()}.")
                return redirect(reverse("admin:batches_documentversion_changelist"))
        return self.render_service_form(
            request,
            form,
            title=gettext("Approve %(version)s") % {"version": version},
            obj=version,
            submit=gettext("Sign approval"),
        )


class TrainingForm(PasswordForm):
    trainee = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"))
    document_version = forms.ModelChoiceField(
        queryset=DocumentVersion.objects.exclude(status=ApprovalStatus.DRAFT).select_related("document")
    )
    trained_on = forms.DateField(widget=date_widget(), initial=timezone.localdate)
    method = forms.ChoiceField(choices=TrainingMethod.choices)
    assessment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=limits.NOTES)
    passed = forms.BooleanField(required=False, label=_("The trainee was assessed as competent"))
    field_order = ["trainee", "document_version", "trained_on", "method", "assessment", "passed", "password"]


@admin.register(TrainingRecord)
class TrainingRecordAdmin(GmpModelAdmin[TrainingRecord]):
    list_display = ("trainee", "document_version", "method", "trained_on", "passed", "trainer", "valid_until", "signed")
    list_filter = ("method", "passed")
    search_fields = ("trainee__username", "document_version__document__number")
    add_roles = (Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.CLINICIAN)
    add_domain = Domain.RECORDS

    @admin.display(description=_("signed by the trainee"))
    def signed(self, obj: TrainingRecord) -> str:
        if obj.is_signed:
            return formatting.day(obj.trainee_signed_at)
        url = reverse("admin:batches_trainingrecord_acknowledge", args=[obj.pk])
        return format_html('{}: <a href="{}">{}</a>', gettext("not yet"), url, gettext("the trainee signs…"))

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404(gettext("Recording a training requires a signing role."))
        trainer = acting_user(request)
        form = TrainingForm(request.POST or None, signer=trainer)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with submitted_once(request):
                    record = training_record(
                        trainer=trainer,
                        trainee_id=data["trainee"].pk,
                        document_version_id=data["document_version"].pk,
                        trained_on=data["trained_on"],
                        method=data["method"],
                        assessment=data["assessment"],
                        passed=data["passed"],
                        password=data["password"],
                        otp_token=form.one_time_code(),
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    gettext("Training recorded and signed; %(trainee)s signs it next.") % {"trainee": record.trainee},
                )
                return redirect(reverse("admin:batches_trainingrecord_changelist"))
        return self.render_service_form(request, form, title=gettext("Record a training (you sign as trainer)"))

    def acknowledge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        record = TrainingRecord.objects.filter(pk=pk).select_related("document_version__document").first()
        if record is None:
            raise Http404(gettext("No training record with id %(pk)s.") % {"pk": pk})
        trainee = acting_user(request)
        if record.trainee_id != trainee.pk:
            raise PermissionDenied(gettext("Only the trainee signs their own training record."))
        form = PasswordForm(request.POST or None, signer=trainee)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    training_acknowledge(
                        trainee=trainee,
                        record_id=record.pk,
                        password=form.cleaned_data["password"],
                        otp_token=form.one_time_code(),
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request, gettext("You signed your training on %(version)s.") % {"version": record.document_version}
                )
                return redirect(reverse("admin:index"))
        title = gettext("Sign your training on %(version)s (%(method)s)") % {
            "version": record.document_version,
            "method": record.get_method_display().lower(),
        }
        return self.render_service_form(request, form, title=title, obj=record, submit=gettext("Sign as trainee"))

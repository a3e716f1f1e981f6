"""Admin pages for specification versions: draft from the defaults, approve twice (signed)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from batches.admin.common import SigningForm
from batches.roles import Domain, Role
from qc.admin.common import PasswordField, RoleGatedAdmin, acting_user, service_form_view
from qc.models import Specification, SpecificationLimit
from qc.services import specifications


class DraftForm(forms.Form):
    product = forms.CharField(max_length=20, help_text="Process definition code, e.g. IGX1.")
    title = forms.CharField(max_length=200)
    requested_effective_from = forms.DateTimeField()
    max_collection_to_processing_hours = forms.IntegerField(min_value=1, initial=24)


class ApproveForm(SigningForm):
    password = PasswordField()


class LimitInline(admin.TabularInline):
    model = SpecificationLimit
    fields = ("test", "method", "operator", "value", "upper", "unit", "expected_result", "blocks_release")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Specification)
class SpecificationAdmin(RoleGatedAdmin):
    write_roles = (Role.QA_REVIEWER,)
    domain = Domain.MASTER_DATA
    list_display = ["__str__", "status", "effective_from", "first_approved_by", "second_approved_by"]
    list_filter = ["product", "status"]
    inlines = [LimitInline]
    readonly_fields = ["approve_link"]

    @admin.display(description="approval")
    def approve_link(self, obj: Specification) -> str:
        if obj.status != "draft":
            return format_html("Approved; effective from {}", obj.effective_from)
        return format_html(
            '<a href="{}">Approve (signature)</a>', reverse("admin:qc_specification_approve", args=[obj.pk])
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.approve_view)
        return [path("<int:pk>/approve/", view, name="qc_specification_approve"), *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.guard_add(request)

        def call(data: dict[str, Any]) -> Specification:
            return specifications.specification_create(actor=acting_user(request), **data)

        return service_form_view(
            self,
            request,
            form_class=DraftForm,
            title="Draft specification version",
            intro=(
                "The limits start from the documented defaults (DOMAIN.md §2); "
                "edit them through the API before approval."
            ),
            call=call,
            success_url=lambda s: reverse("admin:qc_specification_change", args=[s.pk]),
        )

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        spec = get_object_or_404(Specification, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=ApproveForm,
            title=f"Approve {spec}",
            intro="Two different people approve a specification version; each approval is a signature.",
            call=lambda d: specifications.specification_approve(
                specification_id=pk,
                approver=acting_user(request),
                password=d["password"],
                otp_token=d.get("otp_token", ""),
            ),
            success_url=lambda s: reverse("admin:qc_specification_change", args=[s.pk]),
        )

"""Admin pages for specification versions: draft with editable limits, approve twice (signed)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import formatting
from batches.admin.common import SigningForm
from batches.roles import Domain, Role, has_role
from batches.web import READ_ROLES, acting_user
from qc.admin.common import PasswordField, RoleGatedAdmin, service_form_view
from qc.evaluation import CATEGORICAL_OUTCOMES, OPERATOR_SYMBOLS, TEST_LABELS, Operator, QcTest
from qc.models import Specification, SpecificationLimit
from qc.services import specifications

LIMIT_PREFIX = "limit__"
OPERATOR_CHOICES = [(str(op), f"{OPERATOR_SYMBOLS[op]} ({op})") for op in Operator]


class DraftForm(forms.Form):
    """A new specification version with every test's limit editable, starting from the documented defaults."""

    product = forms.CharField(max_length=20, help_text=_("Process definition code, e.g. IGX1."))
    title = forms.CharField(max_length=200)
    requested_effective_from = forms.DateTimeField()
    max_collection_to_processing_hours = forms.IntegerField(min_value=1, initial=24)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in specifications.default_limit_values():
            test = QcTest(row["test"])
            self._add_limit_fields(test, TEST_LABELS[test], row)

    def header_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith(LIMIT_PREFIX)]

    def limit_rows(self) -> list[tuple[str, dict[str, forms.BoundField]]]:
        """(test label, {column: bound field}) per test, for a grid of one row per test."""
        rows: dict[str, dict[str, forms.BoundField]] = {}
        for name in self.fields:
            if name.startswith(LIMIT_PREFIX):
                test, column = name.removeprefix(LIMIT_PREFIX).split("__")
                rows.setdefault(test, {})[column] = self[name]
        return [(TEST_LABELS[QcTest(test)], columns) for test, columns in rows.items()]

    def _add_limit_fields(self, test: QcTest, label: str, row: dict[str, Any]) -> None:
        def key(name: str) -> str:
            return f"{LIMIT_PREFIX}{test}__{name}"

        self.fields[key("method")] = forms.CharField(
            label=gettext("%(test)s: method") % {"test": label}, max_length=120, initial=row["method"]
        )
        if test in CATEGORICAL_OUTCOMES:
            outcomes = [(o, o) for o in CATEGORICAL_OUTCOMES[test]]
            self.fields[key("expected_result")] = forms.ChoiceField(
                label=gettext("%(test)s: expected result") % {"test": label},
                choices=outcomes,
                initial=row["expected_result"],
            )
        else:
            self.fields[key("operator")] = forms.ChoiceField(
                label=gettext("%(test)s: comparison") % {"test": label},
                choices=OPERATOR_CHOICES,
                initial=row["operator"],
            )
            self.fields[key("value")] = forms.DecimalField(
                label=gettext("%(test)s: limit") % {"test": label},
                max_digits=20,
                decimal_places=4,
                initial=row["value"],
            )
            self.fields[key("upper")] = forms.DecimalField(
                label=gettext("%(test)s: upper limit") % {"test": label},
                max_digits=20,
                decimal_places=4,
                required=False,
                initial=row.get("upper"),
                help_text=gettext("Only for a range (–)."),
            )
            self.fields[key("unit")] = forms.CharField(
                label=gettext("%(test)s: unit") % {"test": label}, max_length=20, initial=row["unit"]
            )
        self.fields[key("blocks_release")] = forms.BooleanField(
            label=gettext("%(test)s: blocks release") % {"test": label}, required=False, initial=row["blocks_release"]
        )


def split_limits(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The draft form's cleaned data as the service's arguments and its limit rows (one per test)."""
    rows: dict[str, dict[str, Any]] = {}
    rest: dict[str, Any] = {}
    for name, value in data.items():
        if name.startswith(LIMIT_PREFIX):
            test, field = name.removeprefix(LIMIT_PREFIX).split("__")
            rows.setdefault(test, {"test": test})[field] = value
        else:
            rest[name] = value
    return rest, list(rows.values())


class ApproveForm(SigningForm):
    password = PasswordField()


class LimitInline(admin.TabularInline):
    """The version's limits, read by whoever may read the specification (Django's model permissions,
    which no CellBatch role grants, would hide them)."""

    model = SpecificationLimit
    fields = ("test", "method", "operator", "value", "upper", "unit", "expected_result", "blocks_release")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Specification)
class SpecificationAdmin(RoleGatedAdmin):
    write_roles = (Role.QA_REVIEWER,)
    domain = Domain.MASTER_DATA
    list_display = ["__str__", "status", "effective_from", "first_approved_by", "second_approved_by"]
    list_filter = ["product", "status"]
    inlines = [LimitInline]
    readonly_fields = ["approve_link"]

    @admin.display(description=_("approval"))
    def approve_link(self, obj: Specification) -> str:
        if obj.status != "draft":
            return gettext("Approved; effective from %(when)s") % {"when": formatting.moment(obj.effective_from)}
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:qc_specification_approve", args=[obj.pk]), gettext("Approve (sign)")
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.guard_add(request)

        def call(data: dict[str, Any]) -> Specification:
            arguments, limits = split_limits(data)
            return specifications.specification_create(actor=acting_user(request), limits=limits, **arguments)

        return service_form_view(
            self,
            request,
            form_class=DraftForm,
            title=gettext("Draft specification version"),
            intro=(
                gettext(
                    "Each test's limit starts from the documented default; change what this version changes. "
                    "The version takes effect after two approvals (signed), never before the requested date."
                )
            ),
            call=call,
            success_url=lambda s: reverse("admin:qc_specification_change", args=[s.pk]),
            template="qc/admin/specification_draft.html",
        )

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        spec = get_object_or_404(Specification, pk=pk)
        return service_form_view(
            self,
            request,
            form_class=ApproveForm,
            title=gettext("Approve %(specification)s") % {"specification": spec},
            intro=gettext("Two different people approve a specification version; each approval is a signature."),
            call=lambda d: specifications.specification_approve(
                specification_id=pk,
                approver=acting_user(request),
                password=d["password"],
                otp_token=d.get("otp_token", ""),
            ),
            success_url=lambda s: reverse("admin:qc_specification_change", args=[s.pk]),
        )

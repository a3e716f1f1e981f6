"""What a process definition's steps need, in the admin: materials, equipment kinds and monitoring levels.

Declared on a draft by QA or the administrator (the services refuse an approved definition); read-only lists
for everyone with a role.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from batches.admin.common import GmpModelAdmin
from batches.models import (
    ApprovalStatus,
    MonitoringLimit,
    ProcessDefinition,
    StepEquipmentRequirement,
    StepMaterialRequirement,
)
from batches.roles import Domain
from batches.services import equipment as equipment_services
from batches.services import materials, workstations
from batches.services.materials import DEFINITION_ROLES
from batches.web import acting_user, service_form_view


def _drafts() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=ProcessDefinition.objects.filter(status=ApprovalStatus.DRAFT), label="Draft process definition"
    )


class MaterialRequirementForm(forms.ModelForm[StepMaterialRequirement]):
    definition = _drafts()

    class Meta:
        model = StepMaterialRequirement
        fields = ["step_kind", "category", "grade", "quantity", "unit"]

    field_order = ["definition", "step_kind", "category", "grade", "quantity", "unit"]

    def _post_clean(self) -> None:
        pass


class EquipmentRequirementForm(forms.ModelForm[StepEquipmentRequirement]):
    definition = _drafts()

    class Meta:
        model = StepEquipmentRequirement
        fields = ["step_kind", "kind"]

    field_order = ["definition", "step_kind", "kind"]

    def _post_clean(self) -> None:
        pass


class MonitoringLimitForm(forms.ModelForm[MonitoringLimit]):
    definition = _drafts()

    class Meta:
        model = MonitoringLimit
        fields = ["kind", "alert_cfu", "action_cfu"]

    field_order = ["definition", "kind", "alert_cfu", "action_cfu"]

    def _post_clean(self) -> None:
        pass


class RequirementAdmin(GmpModelAdmin[Any]):
    add_roles = DEFINITION_ROLES
    add_domain = Domain.MASTER_DATA
    form_class: type[forms.ModelForm[Any]]
    title = ""

    def declare(self, actor: Any, definition_id: int, values: dict[str, Any]) -> Model:
        raise NotImplementedError

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied(gettext("Declaring what a step needs requires the role QA reviewer or admin."))
        opts = self.model._meta

        def call(data: dict[str, Any]) -> Model:
            values = {k: v for k, v in data.items() if k != "definition"}
            return self.declare(acting_user(request), data["definition"].pk, values)

        return service_form_view(
            request,
            self.form_class(request.POST or None),
            call=call,
            success_url=lambda _: reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            title=gettext(self.title),
            model=self.model,
        )


@admin.register(StepMaterialRequirement)
class StepMaterialRequirementAdmin(RequirementAdmin):
    form_class = MaterialRequirementForm
    title = gettext_noop("Declare a material a step uses")
    list_display = ["process_definition", "step_kind", "category", "grade", "quantity", "unit"]
    list_filter = ["process_definition", "step_kind"]
    readonly_fields = ["process_definition", "step_kind", "category", "grade", "quantity", "unit"]

    def declare(self, actor: Any, definition_id: int, values: dict[str, Any]) -> Model:
        return materials.material_requirement_add(actor=actor, definition_id=definition_id, **values)


@admin.register(StepEquipmentRequirement)
class StepEquipmentRequirementAdmin(RequirementAdmin):
    form_class = EquipmentRequirementForm
    title = gettext_noop("Declare equipment a step names")
    list_display = ["process_definition", "step_kind", "kind"]
    list_filter = ["process_definition", "step_kind"]
    readonly_fields = ["process_definition", "step_kind", "kind"]

    def declare(self, actor: Any, definition_id: int, values: dict[str, Any]) -> Model:
        return equipment_services.equipment_requirement_add(actor=actor, definition_id=definition_id, **values)


@admin.register(MonitoringLimit)
class MonitoringLimitAdmin(RequirementAdmin):
    form_class = MonitoringLimitForm
    title = gettext_noop("Set environmental monitoring levels")
    list_display = ["process_definition", "kind", "alert_cfu", "action_cfu"]
    list_filter = ["process_definition"]
    readonly_fields = ["process_definition", "kind", "alert_cfu", "action_cfu"]

    def declare(self, actor: Any, definition_id: int, values: dict[str, Any]) -> Model:
        return workstations.monitoring_limit_set(actor=actor, definition_id=definition_id, **values)

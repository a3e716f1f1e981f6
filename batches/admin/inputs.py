"""Materials, lots and equipment in the admin: read-only lists whose rows offer the actions the reader's
roles allow, each add form and signed action calling one service (batches.services.materials,
equipment); a lot's recall and an item's use log have pages. Line clearances and monitoring sessions,
built on the same InputsAdmin: batches.admin.workstations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches.admin.common import GmpModelAdmin, PasswordForm
from batches.admin.inputs_forms import (
    EquipmentForm,
    EquipmentRecordForm,
    EquipmentStatusForm,
    LotDecisionForm,
    LotReceiveForm,
    MaterialForm,
)
from batches.models import Equipment, Material, MaterialLot
from batches.roles import Domain, Role, has_role, role_names
from batches.services import equipment as equipment_services
from batches.services import materials
from batches.services.materials import KEEPER_ROLES
from batches.services.step_inputs import lot_remaining
from batches.usage import equipment_log, lot_recall
from batches.web import acting_user, service_form_view

QA = (Role.QA_REVIEWER,)


def signing_values(cleaned: dict[str, Any], form: Any) -> dict[str, Any]:
    return {"password": cleaned["password"], "otp_token": form.one_time_code()}


class InputsAdmin(GmpModelAdmin[Any]):
    """Shared by the models below: the record looked up or 404, a role check naming the roles."""

    def record(self, request: HttpRequest, object_id: int) -> Any:
        if not self.has_view_permission(request):
            raise PermissionDenied(gettext("These records are open to CellBatch roles only."))
        found = self.get_object(request, str(object_id))
        if found is None:
            raise Http404(
                gettext("No %(model)s with id %(object_id)s.")
                % {"model": self.model._meta.verbose_name, "object_id": object_id}
            )
        return found

    def require(self, request: HttpRequest, roles: tuple[Role, ...], action: str) -> None:
        """Refuse, in the reader's language, an action none of ``roles`` is held for (``action`` translated)."""
        if not has_role(request.user, *roles):
            raise PermissionDenied(
                gettext("%(action)s requires the role %(roles)s.") % {"action": action, "roles": role_names(roles)}
            )

    # The row's actions: replaced for each request by get_list_display, which knows the user.
    links = admin.display(description="")(lambda self, obj: "")

    def row_links(self, obj: Any, user: Any) -> str:
        """The actions on ``obj`` that ``user``'s roles allow (a link that ends in a refusal helps nobody)."""
        return ""

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        shown = list(super().get_list_display(request))
        if "links" in shown:
            user = request.user
            shown[shown.index("links")] = admin.display(description="")(lambda obj: self.row_links(obj, user))
        return shown

    def changelist(self, model: type[Model]) -> str:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    def signed_page(
        self,
        request: HttpRequest,
        form_class: type[PasswordForm],
        *,
        call: Any,
        title: str,
        original: Model,
        submit: str,
        intro: str = "",
    ) -> HttpResponse:
        """A signed action on one record: ``call(values, signing)`` runs the service with the password and code."""
        form = form_class(request.POST or None, signer=acting_user(request))

        def run(data: dict[str, Any]) -> Any:
            values = {k: v for k, v in data.items() if k not in ("password", "otp_token")}
            return call(values, {"password": data["password"], "otp_token": form.one_time_code()})

        return service_form_view(
            request,
            form,
            call=run,
            success_url=lambda _: self.changelist(self.model),
            title=title,
            intro=intro,
            model=self.model,
            original=original,
            submit=submit,
        )


@admin.register(Material)
class MaterialAdmin(InputsAdmin):
    add_roles = KEEPER_ROLES
    add_domain = Domain.MASTER_DATA
    list_display = ["code", "name", "category", "grade", "supplier", "storage_condition", "unit"]
    list_filter = ["grade", "category"]
    search_fields = ["code", "name", "category"]
    readonly_fields = [f.name for f in Material._meta.concrete_fields if f.name != "id"]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.require(request, KEEPER_ROLES, gettext("Adding a material"))
        return service_form_view(
            request,
            MaterialForm(request.POST or None),
            call=lambda data: materials.material_create(actor=acting_user(request), values=data),
            success_url=lambda _: self.changelist(Material),
            title=gettext("Add a material"),
            model=Material,
        )


@admin.register(MaterialLot)
class MaterialLotAdmin(InputsAdmin):
    add_roles = KEEPER_ROLES
    add_domain = Domain.MASTER_DATA
    list_display = ["code", "material", "supplier_lot", "expiry_date", "status", "remaining", "links"]
    list_filter = ["status", "material__grade", "material__category"]
    search_fields = ["code", "supplier_lot", "material__code", "material__name"]
    list_select_related = ["material"]
    readonly_fields = [f.name for f in MaterialLot._meta.concrete_fields if f.name != "id"]

    @admin.display(description=_("left"))
    def remaining(self, obj: MaterialLot) -> str:
        return f"{lot_remaining(obj)} {obj.material.unit}"

    def row_links(self, obj: MaterialLot, user: Any) -> str:
        actions = [(reverse("admin:batches_materiallot_recall", args=[obj.pk]), gettext("recall"))]
        if has_role(user, *QA):
            actions.append((reverse("admin:batches_materiallot_decide", args=[obj.pk]), gettext("decide")))
        return format_html_join(" · ", '<a href="{}">{}</a>', actions)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.require(request, KEEPER_ROLES, gettext("Receiving a lot"))

        def receive(data: dict[str, Any]) -> MaterialLot:
            upload = data["certificate"]
            return materials.lot_receive(
                actor=acting_user(request),
                material_id=data["material"].pk,
                code=data["code"],
                supplier_lot=data["supplier_lot"],
                expiry_date=data["expiry_date"],
                quantity=data["quantity"],
                certificate_name=upload.name,
                certificate=upload.read(),
                certificate_type=upload.content_type or "",
            )

        return service_form_view(
            request,
            LotReceiveForm(request.POST or None, request.FILES or None),
            call=receive,
            success_url=lambda _: self.changelist(MaterialLot),
            title=gettext("Receive a lot into quarantine"),
            model=MaterialLot,
        )

    def decide_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        lot = self.record(request, object_id)
        self.require(request, QA, gettext("Deciding a lot's status"))
        return self.signed_page(
            request,
            LotDecisionForm,
            call=lambda values, signing: materials.lot_status_set(
                actor=acting_user(request), lot_id=lot.pk, **values, **signing
            ),
            title=gettext("Decide the status of lot %(code)s") % {"code": lot.code},
            intro=gettext("%(lot)s: %(status)s; certificate SHA-256 %(digest)s.")
            % {"lot": lot, "status": lot.get_status_display().lower(), "digest": lot.certificate_sha256},
            original=lot,
            submit=gettext("Sign the decision"),
        )

    def recall_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        lot = self.record(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Recall of lot %(code)s") % {"code": lot.code},
            "opts": MaterialLot._meta,
            "lot": lot,
            "hits": lot_recall(lot),
        }
        return TemplateResponse(request, "admin/batches/recall.html", context)


@admin.register(Equipment)
class EquipmentAdmin(InputsAdmin):
    add_roles = KEEPER_ROLES
    add_domain = Domain.MASTER_DATA
    list_display = ["code", "name", "kind", "status", "calibration_due", "maintenance_due", "area_grade", "links"]
    list_filter = ["kind", "status", "area_grade"]
    search_fields = ["code", "name", "serial_number"]
    readonly_fields = [f.name for f in Equipment._meta.concrete_fields if f.name != "id"]

    def row_links(self, obj: Equipment, user: Any) -> str:
        actions = [(reverse("admin:batches_equipment_uses", args=[obj.pk]), gettext("use log"))]
        if has_role(user, *KEEPER_ROLES):
            actions.append(
                (reverse("admin:batches_equipment_record", args=[obj.pk]), gettext("calibration / maintenance"))
            )
        if has_role(user, *QA):
            actions.append((reverse("admin:batches_equipment_decide", args=[obj.pk]), gettext("status")))
        return format_html_join(" · ", '<a href="{}">{}</a>', actions)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.require(request, KEEPER_ROLES, gettext("Registering equipment"))
        return service_form_view(
            request,
            EquipmentForm(request.POST or None),
            call=lambda data: equipment_services.equipment_register(actor=acting_user(request), values=data),
            success_url=lambda _: self.changelist(Equipment),
            title=gettext("Register an item of equipment"),
            model=Equipment,
        )

    def record_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        item = self.record(request, object_id)
        self.require(request, KEEPER_ROLES, gettext("Recording a calibration or maintenance"))
        return self.signed_page(
            request,
            EquipmentRecordForm,
            call=lambda values, signing: equipment_services.equipment_record_add(
                actor=acting_user(request), equipment_id=item.pk, **values, **signing
            ),
            title=gettext("Calibration or maintenance of %(code)s") % {"code": item.code},
            original=item,
            submit=gettext("Sign the record"),
        )

    def decide_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        item = self.record(request, object_id)
        self.require(request, QA, gettext("Changing an equipment status"))
        return self.signed_page(
            request,
            EquipmentStatusForm,
            call=lambda values, signing: equipment_services.equipment_status_set(
                actor=acting_user(request), equipment_id=item.pk, **values, **signing
            ),
            title=gettext("Status of %(code)s") % {"code": item.code},
            original=item,
            submit=gettext("Sign the status"),
        )

    def uses_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        item = self.record(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Use log of %(item)s") % {"item": item},
            "opts": Equipment._meta,
            "item": item,
            "uses": equipment_log(item),
            "records": item.records.select_related("recorded_by"),
        }
        return TemplateResponse(request, "admin/batches/equipment_uses.html", context)

"""Admin plumbing: pages are windows onto the services, never a bypass of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from batches import formatting, limits
from batches.admin.common import SigningForm
from batches.roles import Domain, Role, has_role, may_act
from batches.web import READ_ROLES, acting_user
from batches.web import service_form_view as web_service_form_view


class PasswordField(forms.CharField):
    """Re-entered at every signature (21 CFR 11.200)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Password (to sign)")
        kwargs.setdefault("max_length", limits.PASSWORD)
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        super().__init__(**kwargs)


def service_form_view(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    form_class: type[forms.Form],
    title: str,
    call: Callable[[dict[str, Any]], Any],
    success_url: Callable[[Any], str],
    initial: dict[str, Any] | None = None,
    form_kwargs: dict[str, Any] | None = None,
    intro: str = "",
    template: str = "admin/batches/service_form.html",
) -> HttpResponse:
    """Render ``form_class`` for ``model_admin``'s model and call its service on a valid POST."""
    if not model_admin.has_view_permission(request):
        # Checked before the form is drawn: the page shows the record it acts on.
        raise PermissionDenied(_("This page needs a CellBatch role."))
    kwargs = dict(form_kwargs or {})
    if issubclass(form_class, SigningForm):
        kwargs["signer"] = acting_user(request)  # it asks for a one-time code when the signer has an authenticator
    form = form_class(request.POST or None, initial=initial, **kwargs)
    return web_service_form_view(
        request,
        form,
        call=call,
        success_url=success_url,
        title=title,
        model=model_admin.model,
        intro=intro,
        template=template,
    )


def closed_by(obj: Any) -> str:
    """Who closed a deviation or an investigation, and when, in the record's time format."""
    return _("Closed by %(person)s at %(when)s") % {"person": obj.closed_by, "when": formatting.moment(obj.closed_at)}


@dataclass(frozen=True)
class RecordAction:
    """An action on one record, offered on its page to the roles that may take it."""

    label: Any  # lazily translated: shown in the reader's language
    url_name: str  # the admin page of the action, which takes the record's id
    roles: tuple[Role, ...]


class RoleGatedAdmin(admin.ModelAdmin):
    """Read access for every GMP role; writes only through the service forms (which check roles)."""

    write_roles: tuple[str, ...] = ()
    domain = Domain.BATCH_DATA

    # The record's actions, as links: replaced for each request by get_readonly_fields, which knows the user.
    actions_links = admin.display(description=gettext_lazy("actions"))(lambda self, obj: "")

    def record_actions(self, obj: Any) -> list[RecordAction]:
        """The actions open on ``obj`` in its state (an admin with an ``actions_links`` field says which)."""
        return []

    def record_state_note(self, obj: Any) -> str:
        """What the actions field says when ``obj`` has no action for the reader: who closed it, once closed."""
        return closed_by(obj) if getattr(obj, "closed_at", None) else str(self.get_empty_value_display())

    def action_links(self, obj: Any, user: Any) -> str:
        """The open actions on ``obj`` that ``user``'s roles allow, in the reader's language: a link that ends
        in a refusal helps nobody."""
        allowed = [action for action in self.record_actions(obj) if may_act(user, *action.roles, domain=self.domain)]
        if not allowed:
            return self.record_state_note(obj)
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            ((reverse(f"admin:{action.url_name}", args=[obj.pk]), action.label) for action in allowed),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields: list[Any] = list(super().get_readonly_fields(request, obj))
        if "actions_links" in fields:
            user = request.user
            fields[fields.index("actions_links")] = admin.display(description=gettext_lazy("actions"))(
                lambda shown: self.action_links(shown, user)
            )
        return fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_act(request.user, *self.write_roles, domain=self.domain)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def guard_view(self, request: HttpRequest) -> None:
        """Refuse a role-less user before any record is looked up (an unknown id then says nothing)."""
        if not self.has_view_permission(request):
            raise PermissionDenied(_("This page needs a CellBatch role."))

    def guard_add(self, request: HttpRequest) -> None:
        """An add page is shown only to the roles that may write (the service checks again)."""
        if not self.has_add_permission(request):
            raise PermissionDenied

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

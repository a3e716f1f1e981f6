"""One form of the delivery desk, the call that feeds a service the form's values (shared by the desk's
catalogues, ``batches.views.desk_catalogue`` and ``batches.views.desk_labels``), and the submit of one such
form, the same on the desk and, for the labelling forms, on the batch page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from batches.admin import desk_forms as f
from batches.admin.common import SigningForm
from batches.models import Batch
from batches.release.labelling import PrintedLabels
from batches.roles import Role, has_role, role_names
from batches.web import SERVICE_ERRORS, acting_user, add_service_error, submitted_once

Call = Callable[[User, Batch, dict[str, Any]], Any]


@dataclass
class DeskForm:
    """One form of the desk: what it is called, who may use it, and the service it feeds."""

    action: str
    title: str
    form_class: type[forms.Form]
    roles: tuple[Role, ...]
    call: Call
    target: int | None = None  # the custody event or embryo transfer a per-record form acts on
    intro: str = ""
    occasional: bool = False  # shown folded: needed only when something happens (an adverse event...)
    initial: dict[str, Any] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)  # field → the range the process definition allows
    form: forms.Form | None = None
    scan_point: str = ""  # the identity check its scan fields answer to (scanner.js posts it)

    @property
    def key(self) -> str:
        return self.action if self.target is None else f"{self.action}-{self.target}"

    @property
    def signs(self) -> bool:
        return "password" in self.form_class.base_fields

    def build(self, signer: User, data: Any = None, files: Any = None) -> forms.Form:
        """A signing form is built for its signer: it asks for a one-time code when they have one."""
        kwargs: dict[str, Any] = {"initial": self.initial, "auto_id": f"id_{self.key}_%s", "files": files}
        if issubclass(self.form_class, SigningForm):
            kwargs["signer"] = signer
        self.form = self.form_class(data, **kwargs)
        for name, text in self.help.items():
            if name in self.form.fields:
                self.form.fields[name].help_text = text
        return self.form


def on_batch(service: Callable[..., Any]) -> Call:
    """A desk call for a service that acts on the batch with the form's values as its arguments."""

    def call(user: User, batch: Batch, data: dict[str, Any]) -> Any:
        return service(actor=user, batch_id=batch.pk, **data)

    return call


def posted_form(available: list[DeskForm], request: HttpRequest) -> DeskForm | None:
    """The open form the POST is for; a per-record form is matched on the record it names."""
    action = request.POST.get("action", "")
    candidates = [d for d in available if d.action == action]
    target = request.POST.get("custody_event") or request.POST.get("transfer") or ""
    if target:
        return next((d for d in candidates if str(d.target) == target), None)
    return candidates[0] if len(candidates) == 1 else None


def submit_form(request: HttpRequest, batch: Batch, desk: DeskForm, done_url: str) -> HttpResponse | None:
    """Call the form's service; a redirect to ``done_url`` (or the printed labels) on success, None (the form
    carries the refusal, with what was typed) otherwise."""
    user = acting_user(request)
    form = desk.build(user, request.POST, request.FILES)
    if not has_role(user, *desk.roles):
        names = role_names(desk.roles)
        form.add_error(
            None,
            _("%(form)s requires the role %(roles)s; nothing was recorded.") % {"form": desk.title, "roles": names},
        )
    elif form.is_valid():
        data = f.cleaned(form)
        # A per-record form acts on the record of this batch it was matched to, whatever else was posted.
        if desk.action in ("receive", "receipt_scan"):
            data["custody_event"] = desk.target
        elif desk.action == "outcome":
            data["transfer"] = desk.target
        try:
            with submitted_once(request):
                result = desk.call(user, batch, data)
        except SERVICE_ERRORS as error:
            add_service_error(form, error)
        else:
            if isinstance(result, PrintedLabels):  # the labels go to the printer now, once
                response = HttpResponse(result.content, content_type=result.content_type)
                response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
                return response
            done = _("Recorded and signed. (%(form)s)") if desk.signs else _("Recorded. (%(form)s)")
            messages.success(request, done % {"form": desk.title})
            return redirect(done_url)
    messages.error(request, _("Nothing was recorded: see the form below."))
    return None

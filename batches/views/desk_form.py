"""One form of the delivery desk, and the call that feeds a service the form's values (shared by the
desk's catalogues, ``batches.views.desk_catalogue`` and ``batches.views.desk_labels``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth.models import User

from batches.admin.common import SigningForm
from batches.models import Batch
from batches.roles import Role

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

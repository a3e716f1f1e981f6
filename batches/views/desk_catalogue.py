"""The delivery desk: one page per batch with the custody, delivery and follow-up forms its state allows.

Each form parses the arguments of one service and calls it; the service decides (role, separation of
duties, state, scans, shelf life). The page only offers a form to the roles its service accepts, and a
refusal shows on the form, with what was typed, and changes nothing. Custody services are entry
points that record a refused scan in their own transaction, so nothing here opens a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from batches import formatting
from batches.admin import desk_forms as f
from batches.admin.common import SigningForm
from batches.models import Batch, BedsideCheck, CustodyEvent
from batches.models.custody import HandOff
from batches.release import delivery, disposition
from batches.roles import Role
from batches.services import custody, followup
from batches.states import BatchStatus

S = BatchStatus
DESK_STATES = (
    S.COLLECTION,
    S.PROCESSING,
    S.QUARANTINE,
    S.RELEASED,
    S.CONDITIONALLY_RELEASED,
    S.DISPATCHED,
    S.INFUSED,
    S.REJECTED,
    S.CLOSED,
)
RELEASED = (S.RELEASED, S.CONDITIONALLY_RELEASED)

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
    form: forms.Form | None = None

    @property
    def key(self) -> str:
        return self.action if self.target is None else f"{self.action}-{self.target}"

    @property
    def signs(self) -> bool:
        return "password" in self.form_class.base_fields

    def build(self, signer: User, data: Any = None) -> forms.Form:
        """A signing form is built for its signer: it asks for a one-time code when they have one."""
        kwargs: dict[str, Any] = {"initial": self.initial, "auto_id": f"id_{self.key}_%s"}
        if issubclass(self.form_class, SigningForm):
            kwargs["signer"] = signer
        self.form = self.form_class(data, **kwargs)
        return self.form


# --- the service calls -------------------------------------------------------------------------------


def on_batch(service: Callable[..., Any]) -> Call:
    """A desk call for a service that acts on the batch with the form's values as its arguments."""

    def call(user: User, batch: Batch, data: dict[str, Any]) -> Any:
        return service(actor=user, batch_id=batch.pk, **data)

    return call


dispatch = on_batch(delivery.batch_dispatch)
authorise_expired_use = on_batch(custody.expired_use_authorize)
bedside_scan = on_batch(delivery.bedside_check_scan)
bedside_confirm = on_batch(delivery.bedside_check_confirm)
adverse_event = on_batch(delivery.adverse_event_record)
close = on_batch(delivery.batch_close)
close_rejected = on_batch(disposition.batch_close_rejected)
follow_up = on_batch(followup.follow_up_visit_record)
embryo_transfer = on_batch(followup.embryo_transfer_record)


def hand_over(kind: HandOff) -> Call:
    def call(user: User, batch: Batch, data: dict[str, Any]) -> Any:
        return custody.custody_hand_over(actor=user, batch_id=batch.pk, kind=kind, **data)

    return call


def receive(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    event_id = data.pop("custody_event")
    return custody.custody_receive(actor=user, custody_event_id=event_id, received_at=timezone.now(), **data)


def infuse(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    password, otp_token = data.pop("password"), data.pop("otp_token", "")
    data["notes"] = data.get("notes") or ""
    data["late_entry_reason"] = data.get("late_entry_reason") or ""
    return delivery.infusion_record(actor=user, batch_id=batch.pk, password=password, otp_token=otp_token, **data)


def outcome(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    transfer_id = data.pop("transfer")
    return followup.embryo_transfer_record_outcome(actor=user, transfer_id=transfer_id, **data)


# --- which forms the batch's state allows --------------------------------------------------------------


def _receipts(batch: Batch) -> list[DeskForm]:
    pending = CustodyEvent.objects.filter(batch=batch, received_at__isnull=True).select_related("handed_over_by")
    forms_ = []
    for event in pending.order_by("handed_over_at", "pk"):
        _givers, receivers, _states = custody.HAND_OFF_RULES[event.kind]
        sample = _(" (sample %(sample)s)") % {"sample": event.sample_reference} if event.sample_reference else ""
        forms_.append(
            DeskForm(
                "receive",
                _("Receive: %(handoff)s") % {"handoff": event.get_kind_display()} + sample,
                f.ReceiveForm,
                receivers,
                receive,
                target=event.pk,
                intro=_(
                    "Handed over by %(person)s from %(origin)s to %(destination)s; the receiver scans the bag "
                    "(someone other than the person who handed it over)."
                )
                % {"person": event.handed_over_by, "origin": event.from_location, "destination": event.to_location},
                initial={"custody_event": event.pk},
            )
        )
    return forms_


def _manufacturing(batch: Batch) -> list[DeskForm]:
    forms_ = []
    if batch.status in (S.COLLECTION, S.PROCESSING):
        forms_.append(
            DeskForm(
                "handover_lab",
                _("Hand over: collection → laboratory"),
                f.HandOverForm,
                (Role.OPERATOR,),
                hand_over(HandOff.COLLECTION_TO_LAB),
                initial={
                    "from_location": _("Apheresis unit"),
                    "to_location": _("Cell processing laboratory"),
                    "handed_over_at": f.now_local(),
                },
            )
        )
    if batch.status in (S.PROCESSING, S.QUARANTINE):
        forms_.append(
            DeskForm(
                "handover_qc",
                _("Hand over: laboratory → QC sample"),
                f.QcHandOverForm,
                (Role.OPERATOR,),
                hand_over(HandOff.LAB_TO_QC),
                initial={
                    "from_location": _("Cell processing laboratory"),
                    "to_location": _("QC laboratory"),
                    "handed_over_at": f.now_local(),
                },
            )
        )
    return forms_


def _release_and_delivery(batch: Batch) -> list[DeskForm]:
    forms_ = []
    if batch.status in (S.RELEASED, S.CONDITIONALLY_RELEASED):
        forms_.append(
            DeskForm(
                "dispatch",
                _("Dispatch to interventional radiology"),
                f.DispatchForm,
                (Role.OPERATOR,),
                dispatch,
                initial={
                    "to_location": _("Interventional radiology"),
                    "from_location": _("Cell processing laboratory"),
                },
            )
        )
    if batch.status in (S.RELEASED, S.CONDITIONALLY_RELEASED, S.DISPATCHED):
        forms_.append(
            DeskForm(
                "expired_use",
                _("Authorise use past expiry (QA)"),
                f.ExpiredUseForm,
                (Role.QA_REVIEWER,),
                authorise_expired_use,
                intro=_("Only under a documented deviation, at the treating physician's request."),
                occasional=True,
            )
        )
    if batch.status == S.DISPATCHED and not batch.custody_events.filter(
        kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=True
    ):
        check = BedsideCheck.objects.filter(batch=batch).first()
        if check is None:
            forms_.append(
                DeskForm(
                    "bedside_scan", _("Bedside identity check"), f.BedsideScanForm, (Role.CLINICIAN,), bedside_scan
                )
            )
        elif not check.is_confirmed:
            forms_.append(
                DeskForm(
                    "bedside_confirm",
                    _("Bedside identity check: confirmation by a second clinician"),
                    f.BedsideConfirmForm,
                    (Role.CLINICIAN,),
                    bedside_confirm,
                    intro=_("First scan by %(person)s at %(time)s.")
                    % {"person": check.checked_by, "time": formatting.moment(check.checked_at)},
                )
            )
        else:
            forms_.append(DeskForm("infusion", _("Record infusion"), f.InfusionForm, (Role.CLINICIAN,), infuse))
    if batch.status == S.INFUSED:
        forms_.append(DeskForm("close", _("Close the batch (QA)"), f.CloseForm, (Role.QA_REVIEWER,), close))
    if batch.status == S.REJECTED:
        forms_.append(
            DeskForm(
                "close_rejected",
                _("Close the rejected batch (QA)"),
                f.CloseForm,
                (Role.QA_REVIEWER,),
                close_rejected,
                intro=_(
                    "Once the product is destroyed or returned: closing signs the record as reviewed and "
                    "issues the final executed batch record."
                ),
            )
        )
    return forms_


def _follow_up(batch: Batch) -> list[DeskForm]:
    forms_: list[DeskForm] = []
    if batch.status == S.CLOSED and not batch.was_infused:
        return forms_  # closed after rejection: never infused, nothing to follow
    if batch.status in (S.DISPATCHED, S.INFUSED, S.CLOSED):
        forms_.append(
            DeskForm(
                "adverse_event",
                _("Adverse event"),
                f.AdverseEventForm,
                (Role.CLINICIAN,),
                adverse_event,
                occasional=True,
                initial={"phase": "infusion" if batch.status == S.DISPATCHED else "follow_up"},
            )
        )
    if batch.status in (S.INFUSED, S.CLOSED):
        forms_ += [
            DeskForm("follow_up", _("Follow-up visit"), f.FollowUpForm, (Role.CLINICIAN,), follow_up, occasional=True),
            DeskForm(
                "embryo_transfer",
                _("Embryo transfer"),
                f.EmbryoTransferForm,
                (Role.CLINICIAN,),
                embryo_transfer,
                occasional=True,
            ),
        ]
        for transfer in batch.embryo_transfers.order_by("transfer_date", "pk"):
            forms_.append(
                DeskForm(
                    "outcome",
                    _("Outcome of the embryo transfer of %(day)s") % {"day": formatting.day(transfer.transfer_date)},
                    f.OutcomeForm,
                    (Role.CLINICIAN,),
                    outcome,
                    target=transfer.pk,
                    occasional=True,
                    initial={
                        "transfer": transfer.pk,
                        "implantation": f.outcome_initial(transfer.implantation),
                        "clinical_pregnancy": f.outcome_initial(transfer.clinical_pregnancy),
                        "live_birth": f.outcome_initial(transfer.live_birth),
                    },
                )
            )
    return forms_


def desk_forms(batch: Batch) -> list[DeskForm]:
    """Every form the batch's state allows, in the order the work is done."""
    return [*_manufacturing(batch), *_receipts(batch), *_release_and_delivery(batch), *_follow_up(batch)]

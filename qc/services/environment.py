"""Environmental monitoring results: a plate or air sample read days after its session, compared with the
alert and action levels of each processed batch's definition; an action-level result opens a deviation on
every batch processed on the workstation during the session.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, EquipmentUse, MonitoringLevel, MonitoringLimit, MonitoringSample
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import check_event_time, confirm_password
from batches.services.signatures import signature_sign
from qc.models import Deviation
from qc.services.deviations import deviation_open_for_monitoring

# EU GMP Annex 1 grade A: any growth is investigated; used when a definition sets no levels of its own.
GRADE_A_LEVELS = (1, 1)
LEVEL_ORDER = [MonitoringLevel.WITHIN, MonitoringLevel.ALERT, MonitoringLevel.ACTION]


def session_batches(sample: MonitoringSample) -> list[Batch]:
    """The batches whose steps ran on the workstation while the sample's session was open."""
    session = sample.session
    uses = EquipmentUse.objects.filter(equipment=session.workstation, used_until__gte=session.opened_at)
    if session.closed_at is not None:
        uses = uses.filter(used_from__lte=session.closed_at)
    ids = uses.values("batch_id")
    return list(Batch.objects.filter(pk__in=ids).select_related("process_definition").order_by("batch_number"))


def levels_for(batch: Batch, kind: str) -> tuple[int, int]:
    limit = MonitoringLimit.objects.filter(process_definition=batch.process_definition, kind=kind).first()
    return (limit.alert_cfu, limit.action_cfu) if limit else GRADE_A_LEVELS


def level_of(cfu: int, levels: tuple[int, int]) -> MonitoringLevel:
    alert, action = levels
    if cfu >= action:
        return MonitoringLevel.ACTION
    if cfu >= alert:
        return MonitoringLevel.ALERT
    return MonitoringLevel.WITHIN


@transaction.atomic
def monitoring_result_record(
    *,
    actor: User,
    sample_id: int,
    cfu: int,
    read_at: datetime,
    password: str,
    late_entry_reason: str = "",
    otp_token: str = "",
) -> tuple[MonitoringSample, list[Deviation]]:
    """Record a sample's count (signed); returns the sample and the deviations it opened."""
    require_role(actor, Role.QC_ANALYST, action="Recording an environmental monitoring result")
    confirm_password(actor, password, otp_token=otp_token)
    sample = MonitoringSample.objects.select_for_update().select_related("session__workstation").get(pk=sample_id)
    if sample.cfu is not None:
        raise StateConflict(
            gettext("%(sample)s already has its result (%(cfu)s CFU).") % {"sample": sample, "cfu": sample.cfu}
        )
    if isinstance(cfu, bool) or not isinstance(cfu, int) or cfu < 0 or cfu > 100_000:
        raise ValidationError({"cfu": gettext("A count is a whole number of colonies from 0 to 100000.")})
    check_event_time(read_at, field="read_at", late_entry_reason=late_entry_reason)
    if read_at <= sample.session.opened_at:
        raise ValidationError({"read_at": gettext("A plate is read after its session started.")})
    batches = session_batches(sample)
    levels = {batch.pk: level_of(cfu, levels_for(batch, sample.kind)) for batch in batches}
    overall = max(levels.values(), key=LEVEL_ORDER.index, default=level_of(cfu, GRADE_A_LEVELS))
    with audit_context(actor, reason=f"environmental result of {sample.sample_code}"):
        sample.cfu = cfu
        sample.level = overall
        sample.read_at = read_at
        sample.read_by = actor
        sample.save()
    signature_sign(
        signer=actor, password=password, password_checked=True, meaning=SignatureMeaning.PERFORMED, target=sample
    )
    session = sample.session
    opened = []
    for batch in batches:
        if levels[batch.pk] != MonitoringLevel.ACTION:
            continue
        action = levels_for(batch, sample.kind)[1]
        with translation.override(None):  # stored text: the same whoever's language is active
            description = (
                f"{sample} on {session.workstation.code} ({session}): {cfu} CFU reaches the action level "
                f"({action} CFU) of {batch.process_definition}; batch {batch.batch_number} was processed in this "
                "session."
            )
        opened.append(deviation_open_for_monitoring(batch=batch, description=description, actor=actor))
    return sample, opened

"""Where the sections of the record owned by other parts of the system come from.

One typed function per section, imported directly from the module that owns the records: QC
results and deviations from qc.selectors (the only qc module batches imports), release, custody and
delivery from batches.selectors, the audit checkpoint from the ledger. A missing module is an
import error at start-up, never a silently empty section.
"""

from __future__ import annotations

from django.utils.translation import gettext

from batches import selectors
from batches.ledger.seal import checkpoint_latest
from batches.models import Batch, ProcessDefinition
from batches.models.custody import HandOff
from batches.snapshot import (
    AdverseEventEntry,
    Checkpoint,
    CustodyEntry,
    Deviation,
    ExceptionEntry,
    ExpiredUseEntry,
    InfusionEntry,
    QcResult,
    ReleaseEntry,
    ScanEntry,
    TemperatureLogEntry,
    ValueRow,
    text,
)
from batches.states import BatchStatus
from qc import selectors as qc_selectors


def trial_rows(definition: ProcessDefinition) -> list[ValueRow]:
    """The clinical trial and the product specification file the QP certifies against."""
    trial = definition.clinical_trial
    if trial is None:
        return [ValueRow(gettext("Clinical trial"), gettext("none named by the process definition"))]
    return [
        ValueRow(
            gettext("Clinical trial"),
            gettext("EU CT %(number)s; protocol %(protocol)s; sponsor %(sponsor)s")
            % {"number": trial.eu_ct_number, "protocol": trial.protocol, "sponsor": trial.sponsor},
        ),
        ValueRow(gettext("Investigational sites"), "; ".join(trial.site_list)),
        ValueRow(gettext("Product specification file"), trial.psf_reference),
    ]


def limit_rows(definition: ProcessDefinition) -> list[tuple[str, str, str]]:
    """(what, limit, unit) of each limit of the definition in the active language, the QC tests, hand-offs and
    batch states it names by code written out (the record's master-record section, the definition's page)."""
    names = {
        **qc_selectors.test_names(),
        **{h.value: gettext(h.label) for h in HandOff},
        **{s.value: gettext(s.label).lower() for s in BatchStatus},
    }
    return definition.parsed_limits.rows(names)


def qc_results(batch: Batch) -> list[QcResult]:
    return qc_selectors.batch_record_qc_results(batch)


def deviations(batch: Batch) -> list[Deviation]:
    return qc_selectors.batch_record_deviations(batch)


def release(batch: Batch) -> list[ReleaseEntry]:
    return selectors.batch_record_release(batch)


def infusion(batch: Batch) -> list[InfusionEntry]:
    """The bedside check and the infusion, then the balance of cells and volume from formulation to infusion."""
    rows = selectors.batch_record_infusion(batch)
    balance = qc_selectors.reconcile(batch) if rows else None
    if balance is not None:
        rows += [
            InfusionEntry(gettext("Balance: %(what)s") % {"what": what}, amount) for what, amount in balance.rows()
        ]
    return rows


def exceptions(batch: Batch) -> list[ExceptionEntry]:
    return selectors.batch_record_exceptions(batch)


def custody(batch: Batch) -> list[CustodyEntry]:
    return selectors.batch_record_custody(batch)


def identity_scans(batch: Batch) -> list[ScanEntry]:
    return selectors.batch_record_identity_scans(batch)


def adverse_events(batch: Batch) -> list[AdverseEventEntry]:
    return selectors.batch_record_adverse_events(batch)


def expired_use(batch: Batch) -> list[ExpiredUseEntry]:
    return selectors.batch_record_expired_use(batch)


def coi_id(batch: Batch) -> str | None:
    return selectors.batch_record_coi_id(batch)


def current_checkpoint() -> Checkpoint | None:
    """The audit-ledger checkpoint current now (None before the first seal)."""
    latest = checkpoint_latest()
    if latest is None:
        return None
    return Checkpoint(
        sequence=str(latest.head_sequence), sealed_at=text(latest.created_at), chain_sha256=latest.head_hash
    )


def temperature_logs(batch: Batch) -> list[TemperatureLogEntry]:
    return selectors.batch_record_temperature_logs(batch)

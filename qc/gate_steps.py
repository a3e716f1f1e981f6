"""The release gate's checks of the manufacturing steps: missing, unverified or late steps, expired
materials, and time windows (qc.gate gathers them with the others)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from batches import formatting
from batches.models import Batch
from qc.findings import Finding
from qc.models import Specification


def steps_findings(batch: Batch) -> list[Finding]:
    """Required steps missing, unverified, or entered late."""
    findings: list[Finding] = []
    definition = batch.process_definition
    administrations = list(batch.gcsf_administrations.order_by("day"))
    required = set(definition.required_steps or [])
    if "gcsf" in required and len(administrations) < definition.gcsf_days_min:
        findings.append(
            Finding(
                "step_missing",
                _("G-CSF: %(count)s administration(s); at least %(minimum)s required.")
                % {"count": len(administrations), "minimum": definition.gcsf_days_min},
                True,
            )
        )
    for kind, label in (("apheresis", _("Apheresis collection")), ("selection", _("CD133+ selection"))):
        if kind in required and getattr(batch, kind, None) is None:
            findings.append(Finding("step_missing", _("%(step)s is not recorded.") % {"step": label}, True))
    for step, label in _recorded_steps(batch, administrations):
        if not step.is_verified:
            findings.append(
                Finding("step_unverified", _("%(step)s is not verified by a second person.") % {"step": label}, True)
            )
        if step.late_entry_reason:
            findings.append(
                Finding(
                    "late_entry",
                    _("%(step)s was entered late: %(reason)s") % {"step": label, "reason": step.late_entry_reason},
                    False,
                )
            )
    return findings


def _recorded_steps(batch: Batch, administrations: list[Any]) -> list[tuple[Any, str]]:
    steps = [(a, _("G-CSF day %(day)s") % {"day": a.day}) for a in administrations]
    apheresis = getattr(batch, "apheresis", None)
    selection = getattr(batch, "selection", None)
    if apheresis is not None:
        steps.append((apheresis, _("Apheresis collection")))
    if selection is not None:
        steps.append((selection, _("CD133+ selection")))
    return steps


def materials_findings(batch: Batch) -> list[Finding]:
    """Materials used after their expiry (the typed lots of the steps)."""
    findings: list[Finding] = []
    used: list[tuple[str, str, date, date]] = [
        (_("Filgrastim"), a.drug_lot, a.drug_expiry, timezone.localdate(a.administered_at))
        for a in batch.gcsf_administrations.all()
    ]
    selection = getattr(batch, "selection", None)
    if selection is not None:
        on = timezone.localdate(selection.started_at)
        used += [
            (_("CD133 reagent"), selection.reagent_lot, selection.reagent_expiry, on),
            (_("Tubing set"), selection.tubing_set_lot, selection.tubing_set_expiry, on),
            (_("Buffer"), selection.buffer_lot, selection.buffer_expiry, on),
            (_("Human serum albumin"), selection.albumin_lot, selection.albumin_expiry, on),
        ]
    for label, lot, expiry, on in used:
        if expiry < on:
            findings.append(
                Finding(
                    "expired_material",
                    _("%(material)s lot %(lot)s expired %(expiry)s, used %(used)s.")
                    % {"material": label, "lot": lot, "expiry": formatting.day(expiry), "used": formatting.day(on)},
                    False,
                )
            )
    return findings


def time_window_findings(batch: Batch, specification: Specification | None) -> list[Finding]:
    """G-CSF days not consecutive; processing started too long after the end of collection."""
    findings: list[Finding] = []
    days = list(batch.gcsf_administrations.order_by("day"))
    for before, after in itertools.pairwise(days):
        gap = (timezone.localdate(after.administered_at) - timezone.localdate(before.administered_at)).days
        if after.day != before.day + 1 or gap != 1:
            findings.append(
                Finding(
                    "time_window",
                    _("G-CSF days not consecutive: day %(before)s on %(before_on)s, day %(after)s on %(after_on)s.")
                    % {
                        "before": before.day,
                        "before_on": formatting.day(before.administered_at),
                        "after": after.day,
                        "after_on": formatting.day(after.administered_at),
                    },
                    False,
                )
            )
    apheresis = getattr(batch, "apheresis", None)
    selection = getattr(batch, "selection", None)
    if specification and apheresis is not None and selection is not None:
        allowed = timedelta(hours=specification.max_collection_to_processing_hours)
        waited = selection.started_at - apheresis.ended_at
        if waited > allowed:
            hours = waited.total_seconds() / 3600
            findings.append(
                Finding(
                    "time_window",
                    _("Processing started %(hours)s h after the end of collection (at most %(most)s h).")
                    % {
                        "hours": formatting.number(hours, 1),
                        "most": formatting.number(specification.max_collection_to_processing_hours),
                    },
                    False,
                )
            )
    return findings

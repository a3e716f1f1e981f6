"""Cells and volume from formulation to infusion: formulated, drawn for QC, remaining, infused.

The infusion is checked against this balance (it cannot give more cells or volume than the released
product still holds) and its total against the process definition's dose range (outside it, only with
a reason); the batch record prints the balance. Re-exported by qc.selectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext, pgettext

from batches import formatting
from batches.master_limits import AlertFinding
from batches.models import Batch
from qc.queries import final_product_sampled_ml


@dataclass(frozen=True)
class Reconciliation:
    formulated_cells: int
    formulated_volume_ml: Decimal
    sampled_volume_ml: Decimal
    infused_cells: int | None = None
    infused_volume_ml: Decimal | None = None

    @property
    def remaining_volume_ml(self) -> Decimal:
        return max(self.formulated_volume_ml - self.sampled_volume_ml, Decimal(0))

    @property
    def remaining_cells(self) -> int:
        """Cells left after the QC samples, at the formulated concentration (rounded down)."""
        if self.formulated_volume_ml <= 0:
            return 0
        share = self.remaining_volume_ml / self.formulated_volume_ml
        return int((Decimal(self.formulated_cells) * share).to_integral_value(rounding=ROUND_DOWN))

    def rows(self) -> list[tuple[str, str]]:
        """(what, how much) for the record, in the active language: formulated, drawn for QC, remaining, infused."""
        amount = formatting.cells_in
        rows = [
            (gettext("formulated (CD133+ selection)"), amount(self.formulated_cells, self.formulated_volume_ml)),
            (gettext("drawn for QC samples"), f"{formatting.number(self.sampled_volume_ml)} {gettext('mL')}"),
            (gettext("remaining for infusion"), amount(self.remaining_cells, self.remaining_volume_ml)),
        ]
        if self.infused_cells is not None:
            rows.append((pgettext("balance", "infused"), amount(self.infused_cells, self.infused_volume_ml)))
        return rows


def reconcile(batch: Batch) -> Reconciliation | None:
    """The balance of the batch (None before the selection is recorded)."""
    selection = getattr(batch, "selection", None)
    if selection is None:
        return None
    infusion = getattr(batch, "infusion", None)
    return Reconciliation(
        formulated_cells=selection.output_cd133_cells,
        formulated_volume_ml=selection.final_volume_ml,
        sampled_volume_ml=final_product_sampled_ml(batch),
        infused_cells=infusion.total_cells if infusion is not None else None,
        infused_volume_ml=(infusion.left_volume_ml + infusion.right_volume_ml) if infusion is not None else None,
    )


def infusion_balance_errors(
    batch: Batch, *, cells: int, volume_ml: Decimal
) -> tuple[dict[str, str], list[AlertFinding]]:
    """Refuse an infusion above what the product holds; the dose range of the definition is an alert."""
    balance = reconcile(batch)
    if balance is None:
        return {"left_cells": f"Batch {batch.batch_number} has no CD133+ selection to infuse from."}, []
    errors: dict[str, str] = {}
    drawn = f"{balance.sampled_volume_ml} mL drawn for QC"
    if cells > balance.remaining_cells:
        errors["left_cells"] = (
            f"Cells infused ({formatting.cells(cells)}) exceed what the product of batch {batch.batch_number} "
            f"holds: {formatting.cells(balance.remaining_cells)} ({formatting.cells(balance.formulated_cells)} "
            f"formulated in {balance.formulated_volume_ml} mL, {drawn})."
        )
    if volume_ml > balance.remaining_volume_ml:
        errors["left_volume_ml"] = (
            f"Volume infused ({volume_ml} mL) exceeds the {balance.remaining_volume_ml} mL left in the bag "
            f"of batch {batch.batch_number} ({balance.formulated_volume_ml} mL formulated, {drawn})."
        )
    definition = batch.process_definition
    low, high = definition.target_dose_min_cells, definition.target_dose_max_cells
    alerts = []
    if not errors and not low <= cells <= high:
        alerts.append(
            AlertFinding(
                key="infusion.total_cells",
                subject="Total CD133+ cells infused",
                value=formatting.cells(cells),
                limit=f"dose range {formatting.cells(low)}–{formatting.cells(high)} of {definition}",
            )
        )
    return errors, alerts

"""What the trial reports, computed from patient outcomes (pure), and a dose-against-outcome plot (SVG).

Definitions, as in the published trial: implantation rate = implantations / embryo transfers;
cumulative pregnancy (live-birth) rate = patients with at least one clinical pregnancy (live birth)
/ patients treated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from statistics import median

from django.utils.translation import gettext, gettext_noop

NO_PREGNANCY = gettext_noop("no pregnancy")
PREGNANCY_NO_LIVE_BIRTH = gettext_noop("pregnancy, no live birth")
LIVE_BIRTH = gettext_noop("live birth")


@dataclass(frozen=True)
class TransferOutcome:
    implantation: bool | None = None
    clinical_pregnancy: bool | None = None
    live_birth: bool | None = None


@dataclass(frozen=True)
class PatientOutcome:
    subject_code: str
    cells_infused: int
    transfers: Sequence[TransferOutcome] = ()
    adverse_event_grades: Sequence[int] = ()

    @property
    def pregnant(self) -> bool:
        return any(t.clinical_pregnancy for t in self.transfers)

    @property
    def live_birth(self) -> bool:
        return any(t.live_birth for t in self.transfers)

    @property
    def outcome(self) -> str:
        """The outcome's code (one of ``OUTCOME_ROWS``, as the API gives it); ``outcome_label`` to show it."""
        if self.live_birth:
            return LIVE_BIRTH
        if self.pregnant:
            return PREGNANCY_NO_LIVE_BIRTH
        return NO_PREGNANCY

    @property
    def outcome_label(self) -> str:
        return gettext(self.outcome)


def percent(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CohortSummary:
    patients_treated: int
    dose_min_cells: int | None
    dose_max_cells: int | None
    dose_median_cells: float | None
    embryo_transfers: int
    implantations: int
    patients_pregnant: int
    patients_live_birth: int
    adverse_events_by_grade: dict[int, int] = field(default_factory=dict)

    @property
    def implantation_rate_pct(self) -> Decimal | None:
        return percent(self.implantations, self.embryo_transfers)

    @property
    def cumulative_pregnancy_pct(self) -> Decimal | None:
        return percent(self.patients_pregnant, self.patients_treated)

    @property
    def cumulative_live_birth_pct(self) -> Decimal | None:
        return percent(self.patients_live_birth, self.patients_treated)

    def as_dict(self) -> dict[str, object]:
        def number(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "patients_treated": self.patients_treated,
            "dose_min_cells": self.dose_min_cells,
            "dose_max_cells": self.dose_max_cells,
            "dose_median_cells": self.dose_median_cells,
            "embryo_transfers": self.embryo_transfers,
            "implantations": self.implantations,
            "implantation_rate_pct": number(self.implantation_rate_pct),
            "patients_pregnant": self.patients_pregnant,
            "cumulative_pregnancy_pct": number(self.cumulative_pregnancy_pct),
            "patients_live_birth": self.patients_live_birth,
            "cumulative_live_birth_pct": number(self.cumulative_live_birth_pct),
            "adverse_events_by_grade": {str(g): n for g, n in self.adverse_events_by_grade.items()},
        }


def summarize(outcomes: Iterable[PatientOutcome]) -> CohortSummary:
    """The trial's figures for a cohort of treated patients."""
    patients = list(outcomes)
    doses = [p.cells_infused for p in patients]
    transfers = [t for p in patients for t in p.transfers]
    grades = dict.fromkeys(range(1, 6), 0)
    for p in patients:
        for grade in p.adverse_event_grades:
            grades[grade] += 1
    return CohortSummary(
        patients_treated=len(patients),
        dose_min_cells=min(doses) if doses else None,
        dose_max_cells=max(doses) if doses else None,
        dose_median_cells=float(median(doses)) if doses else None,
        embryo_transfers=len(transfers),
        implantations=sum(1 for t in transfers if t.implantation),
        patients_pregnant=sum(1 for p in patients if p.pregnant),
        patients_live_birth=sum(1 for p in patients if p.live_birth),
        adverse_events_by_grade=grades,
    )


OUTCOME_ROWS = (NO_PREGNANCY, PREGNANCY_NO_LIVE_BIRTH, LIVE_BIRTH)
OUTCOME_COLOURS = dict(zip(OUTCOME_ROWS, ("#8c8c8c", "#2b7bb9", "#1a9850"), strict=True))


def dose_outcome_svg(outcomes: Sequence[PatientOutcome], *, width: int = 560, height: int = 220) -> str:
    """Scatter plot: cells infused (millions) on x, best outcome per patient on y, one dot per patient."""
    left, right, top, bottom = 160, 20, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    doses = [p.cells_infused / 1e6 for p in outcomes] or [0.0]
    low, high = min(doses), max(doses)
    span = (high - low) or 1.0
    low, high = low - span * 0.05, high + span * 0.05

    def x_of(millions: float) -> float:
        return left + (millions - low) / (high - low) * plot_w

    def y_of(row: str) -> float:
        return top + plot_h - (OUTCOME_ROWS.index(row) + 0.5) * plot_h / len(OUTCOME_ROWS)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(gettext("Cells infused against outcome"))}" font-family="sans-serif" font-size="11">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>',
    ]
    for row in OUTCOME_ROWS:
        y = y_of(row)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(gettext(row))}</text>')
    for i in range(5):
        value = low + (high - low) * i / 4
        x = x_of(value)
        parts.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="#444"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{value:.0f}</text>')
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(gettext('CD133+ cells infused (millions)'))}</text>"
    )
    for index, patient in enumerate(sorted(outcomes, key=lambda p: p.cells_infused)):
        row = patient.outcome
        jitter = ((index % 3) - 1) * 6  # keeps patients with equal outcome and close doses apart
        parts.append(
            f'<circle cx="{x_of(patient.cells_infused / 1e6):.1f}" cy="{y_of(row) + jitter:.1f}" r="4.5" '
            f'fill="{OUTCOME_COLOURS[row]}" fill-opacity="0.85"><title>{escape(dot_title(patient))}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def dot_title(patient: PatientOutcome) -> str:
    """A dot's tooltip: ``S001: 117 million cells, no pregnancy``, in the reader's language."""
    return gettext("%(subject)s: %(millions)s million cells, %(outcome)s") % {
        "subject": patient.subject_code,
        "millions": f"{patient.cells_infused / 1e6:.0f}",
        "outcome": patient.outcome_label,
    }


def outcomes_from_records() -> list[PatientOutcome]:
    """Every treated patient's outcome, read from the infusion, transfer and adverse-event records."""
    from batches.models import Infusion

    infusions = Infusion.objects.select_related("batch__patient").prefetch_related(
        "batch__embryo_transfers", "batch__adverse_events"
    )
    return [
        PatientOutcome(
            subject_code=infusion.batch.patient.subject_code,
            cells_infused=infusion.total_cells,
            transfers=[
                TransferOutcome(t.implantation, t.clinical_pregnancy, t.live_birth)
                for t in infusion.batch.embryo_transfers.all()
            ],
            adverse_event_grades=[e.ctcae_grade for e in infusion.batch.adverse_events.all()],
        )
        for infusion in infusions.order_by("batch__patient__subject_code")
    ]

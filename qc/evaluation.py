"""QC verdicts: a result against its specification limit. Pure Python, no database.

The verdict of a result is never typed in: services call :func:`evaluate` and store what it
returns, and the release gate reads the stored verdicts. Numeric limits compare exact decimals
(no float rounding at a limit); categorical limits compare a normalised outcome.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext, gettext_noop

from batches import formatting


class Verdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    OOS = "oos"
    PENDING = "pending"


class Operator(enum.StrEnum):
    """How a numeric result is compared with its limit."""

    GTE = "gte"
    GT = "gt"
    LTE = "lte"
    LT = "lt"
    BETWEEN = "between"  # lower ≤ value ≤ upper


OPERATOR_SYMBOLS = {
    Operator.GTE: "≥",
    Operator.GT: ">",
    Operator.LTE: "≤",
    Operator.LT: "<",
    Operator.BETWEEN: "–",
}


class QcTest(enum.StrEnum):
    CD133_PURITY = "cd133_purity"
    VIABILITY = "viability"
    VIABLE_CD133_DOSE = "viable_cd133_dose"
    GRAM_STAIN = "gram_stain"
    ENDOTOXIN = "endotoxin"
    STERILITY = "sterility"
    MYCOPLASMA = "mycoplasma"


TEST_LABELS: dict[QcTest, str] = {
    QcTest.CD133_PURITY: gettext_noop("CD133+ purity"),
    QcTest.VIABILITY: gettext_noop("Viability"),
    QcTest.VIABLE_CD133_DOSE: gettext_noop("Viable CD133+ dose"),
    QcTest.GRAM_STAIN: gettext_noop("Gram stain"),
    QcTest.ENDOTOXIN: gettext_noop("Endotoxin"),
    QcTest.STERILITY: gettext_noop("Sterility"),
    QcTest.MYCOPLASMA: gettext_noop("Mycoplasma"),
}

# The outcomes a categorical test can report; the specification picks the expected one.
CATEGORICAL_OUTCOMES: dict[QcTest, tuple[str, ...]] = {
    QcTest.GRAM_STAIN: ("no organisms seen", "organisms seen"),
    QcTest.STERILITY: ("no growth", "growth"),
    QcTest.MYCOPLASMA: ("not detected", "detected"),
}

# Tests whose value is calculated from other results, never entered.
COMPUTED_TESTS = frozenset({QcTest.VIABLE_CD133_DOSE})


@dataclass(frozen=True)
class NumericLimit:
    operator: Operator
    value: Decimal
    unit: str
    upper: Decimal | None = None  # only for BETWEEN

    def __post_init__(self) -> None:
        if self.operator is Operator.BETWEEN:
            if self.upper is None or self.upper < self.value:
                raise ValueError(gettext("a 'between' limit needs an upper bound at or above its lower bound"))
        elif self.upper is not None:
            raise ValueError(f"an upper bound belongs only to a 'between' limit, not {self.operator}")

    def describe(self, *, localized: bool = False) -> str:
        """``≥ 70 %``, ``< 0.5 EU/mL``; ``localized``: with the reader's decimal mark (``< 0,5 EU/mL``), as
        the signed record prints it."""
        if self.unit == "cells":  # 37–166 × 10⁶ cells reads; 37000000–166000000 does not
            low = formatting.cells(self.value)
            if self.operator is Operator.BETWEEN:
                return f"{low.removesuffix(' × 10⁶')}–{formatting.cells(self.upper)} {gettext('cells')}"
            return f"{OPERATOR_SYMBOLS[self.operator]} {low} {gettext('cells')}"
        shown = formatting.number if localized else str
        if self.operator is Operator.BETWEEN:
            return f"{shown(self.value)}–{shown(self.upper)} {self.unit}".strip()
        return f"{OPERATOR_SYMBOLS[self.operator]} {shown(self.value)} {self.unit}".strip()


@dataclass(frozen=True)
class CategoricalLimit:
    expected: str

    def describe(self, *, localized: bool = False) -> str:
        return self.expected


Limit = NumericLimit | CategoricalLimit


def plain(number: Decimal) -> Decimal:
    """A decimal without trailing zeros or exponent notation (70.0000 → 70, 0.5000 → 0.5)."""
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def normalise_outcome(text: str) -> str:
    """Case and spacing do not change a categorical outcome."""
    return " ".join(text.split()).lower()


def within(limit: NumericLimit, value: Decimal) -> bool:
    match limit.operator:
        case Operator.GTE:
            return value >= limit.value
        case Operator.GT:
            return value > limit.value
        case Operator.LTE:
            return value <= limit.value
        case Operator.LT:
            return value < limit.value
        case Operator.BETWEEN:
            if limit.upper is None:
                raise ValueError(gettext("a 'between' limit needs an upper value"))
            return limit.value <= value <= limit.upper
    raise ValueError(f"unknown operator {limit.operator!r}")  # pragma: no cover


def evaluate(limit: Limit, value: Decimal | str | None, *, unit: str = "") -> Verdict:
    """The verdict of one result: PENDING without a value, else PASS or OOS.

    Raises ValueError when the value does not fit the limit (text for a numeric limit, another
    unit, an outcome the test cannot report): such input is refused, never judged.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return Verdict.PENDING
    if isinstance(limit, NumericLimit):
        if isinstance(value, str) or not isinstance(value, Decimal | int):
            raise ValueError(f"a numeric result is needed for a limit of {limit.describe()}")
        if unit.strip() != limit.unit.strip():
            raise ValueError(f"the result unit {unit!r} is not the specification unit {limit.unit!r}")
        decimal_value = Decimal(value)
        if not decimal_value.is_finite():
            raise ValueError(gettext("a result must be a finite number"))
        return Verdict.PASS if within(limit, decimal_value) else Verdict.OOS
    if not isinstance(value, str):
        raise ValueError(f"a categorical result is needed (expected outcome: {limit.expected})")
    return Verdict.PASS if normalise_outcome(value) == normalise_outcome(limit.expected) else Verdict.OOS


def check_outcome(test: QcTest, value: str) -> str:
    """The normalised outcome, or ValueError naming the outcomes the test can report."""
    allowed = CATEGORICAL_OUTCOMES.get(test)
    cleaned = normalise_outcome(value)
    if allowed is not None and cleaned not in allowed:
        raise ValueError(f"{TEST_LABELS[test]} reports one of: {', '.join(allowed)}; not {value!r}")
    return cleaned


def viable_cd133_dose(*, total_cd133_cells: int, viability_pct: Decimal) -> Decimal:
    """Viable CD133+ cells = total CD133+ cells × viability, rounded to whole cells."""
    if total_cd133_cells < 0:
        raise ValueError(gettext("the CD133+ cell count cannot be negative"))
    if not Decimal(0) <= viability_pct <= Decimal(100):
        raise ValueError(gettext("viability is a percentage from 0 to 100"))
    return (Decimal(total_cd133_cells) * viability_pct / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DefaultLimit:
    test: QcTest
    method: str
    limit: Limit
    blocks_release: bool


# docs/domain.md §QC testing: the typical release set; every value is editable per specification version.
DEFAULT_LIMITS: tuple[DefaultLimit, ...] = (
    DefaultLimit(
        QcTest.CD133_PURITY,
        "Flow cytometry, single platform",
        NumericLimit(Operator.GTE, Decimal("70"), "%"),
        True,
    ),
    DefaultLimit(QcTest.VIABILITY, "7-AAD flow cytometry", NumericLimit(Operator.GTE, Decimal("80"), "%"), True),
    DefaultLimit(
        QcTest.VIABLE_CD133_DOSE,
        "Calculation: total CD133+ cells × viability",
        NumericLimit(Operator.BETWEEN, Decimal("37000000"), "cells", upper=Decimal("166000000")),
        True,
    ),
    DefaultLimit(QcTest.GRAM_STAIN, "Microscopy", CategoricalLimit("no organisms seen"), True),
    DefaultLimit(QcTest.ENDOTOXIN, "LAL", NumericLimit(Operator.LT, Decimal("0.5"), "EU/mL"), True),
    DefaultLimit(QcTest.STERILITY, "14-day aerobic + anaerobic culture", CategoricalLimit("no growth"), False),
    DefaultLimit(QcTest.MYCOPLASMA, "PCR", CategoricalLimit("not detected"), True),
)

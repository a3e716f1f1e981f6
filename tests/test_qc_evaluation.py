"""QC verdicts at and around every limit: pure evaluation, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from qc.evaluation import (
    CATEGORICAL_OUTCOMES,
    DEFAULT_LIMITS,
    CategoricalLimit,
    NumericLimit,
    Operator,
    QcTest,
    Verdict,
    evaluate,
    viable_cd133_dose,
)

DEFAULTS = {d.test: d.limit for d in DEFAULT_LIMITS}
STEP = Decimal("0.0001")  # the stored precision of a result


def near(limit: Decimal) -> st.SearchStrategy[Decimal]:
    """Values at the limit, one stored step either side, and anywhere around it."""
    return st.one_of(
        st.sampled_from([limit, limit - STEP, limit + STEP]),
        st.decimals(min_value=limit - 10, max_value=limit + 10, places=4, allow_nan=False, allow_infinity=False),
    )


@pytest.mark.urs("URS-060")
@given(value=near(Decimal("70")))
@example(value=Decimal("70"))
@example(value=Decimal("69.9999"))
def test_purity_passes_at_and_above_70_percent(value: Decimal) -> None:
    verdict = evaluate(DEFAULTS[QcTest.CD133_PURITY], value, unit="%")
    assert verdict is (Verdict.PASS if value >= 70 else Verdict.OOS)


@pytest.mark.urs("URS-060")
@given(value=near(Decimal("80")))
@example(value=Decimal("80"))
@example(value=Decimal("79.9999"))
def test_viability_passes_at_and_above_80_percent(value: Decimal) -> None:
    verdict = evaluate(DEFAULTS[QcTest.VIABILITY], value, unit="%")
    assert verdict is (Verdict.PASS if value >= 80 else Verdict.OOS)


@pytest.mark.urs("URS-060")
@given(value=near(Decimal("0.5")).filter(lambda v: v >= 0))
@example(value=Decimal("0.5"))
@example(value=Decimal("0.4999"))
def test_endotoxin_passes_only_below_half_an_eu_per_ml(value: Decimal) -> None:
    verdict = evaluate(DEFAULTS[QcTest.ENDOTOXIN], value, unit="EU/mL")
    assert verdict is (Verdict.PASS if value < Decimal("0.5") else Verdict.OOS)


@pytest.mark.urs("URS-060")
@given(value=st.one_of(near(Decimal(37_000_000)), near(Decimal(166_000_000))))
@example(value=Decimal(37_000_000))
@example(value=Decimal(166_000_000))
@example(value=Decimal(36_999_999))
@example(value=Decimal(166_000_001))
def test_viable_dose_window_includes_both_ends(value: Decimal) -> None:
    verdict = evaluate(DEFAULTS[QcTest.VIABLE_CD133_DOSE], value, unit="cells")
    assert verdict is (Verdict.PASS if 37_000_000 <= value <= 166_000_000 else Verdict.OOS)


@pytest.mark.urs("URS-060")
@given(
    operator=st.sampled_from([Operator.GTE, Operator.GT, Operator.LTE, Operator.LT]),
    limit=st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
    offset=st.sampled_from([Decimal(0), STEP, -STEP, Decimal(1), Decimal(-1)]),
)
def test_every_operator_decides_exactly_at_its_limit(operator: Operator, limit: Decimal, offset: Decimal) -> None:
    value = limit + offset
    expected = {
        Operator.GTE: value >= limit,
        Operator.GT: value > limit,
        Operator.LTE: value <= limit,
        Operator.LT: value < limit,
    }[operator]
    verdict = evaluate(NumericLimit(operator, limit, "u"), value, unit="u")
    assert verdict is (Verdict.PASS if expected else Verdict.OOS)


@pytest.mark.urs("URS-060")
@given(test=st.sampled_from(sorted(CATEGORICAL_OUTCOMES)), data=st.data())
def test_categorical_results_pass_only_on_the_expected_outcome(test: QcTest, data: st.DataObject) -> None:
    limit = DEFAULTS[test]
    assert isinstance(limit, CategoricalLimit)
    outcome = data.draw(st.sampled_from(CATEGORICAL_OUTCOMES[test]))
    spelled = data.draw(st.sampled_from([outcome, outcome.upper(), f"  {outcome.title()} "]))
    assert evaluate(limit, spelled) is (Verdict.PASS if outcome == limit.expected else Verdict.OOS)


@pytest.mark.urs("URS-061")
@given(limit=st.sampled_from([d.limit for d in DEFAULT_LIMITS]))
def test_no_value_means_pending_never_pass(limit: NumericLimit | CategoricalLimit) -> None:
    assert evaluate(limit, None) is Verdict.PENDING
    assert evaluate(limit, "  ") is Verdict.PENDING


@pytest.mark.urs("URS-061")
def test_a_result_in_another_unit_or_of_the_wrong_kind_is_refused_not_judged() -> None:
    with pytest.raises(ValueError, match="unit"):
        evaluate(DEFAULTS[QcTest.CD133_PURITY], Decimal("95"), unit="fraction")
    with pytest.raises(ValueError, match="numeric"):
        evaluate(DEFAULTS[QcTest.CD133_PURITY], "high", unit="%")
    with pytest.raises(ValueError, match="categorical"):
        evaluate(DEFAULTS[QcTest.STERILITY], Decimal("1"))
    with pytest.raises(ValueError, match="finite"):
        evaluate(DEFAULTS[QcTest.CD133_PURITY], Decimal("NaN"), unit="%")


@pytest.mark.urs("URS-062")
@given(
    cells=st.integers(min_value=0, max_value=10**10),
    viability=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False),
)
def test_viable_dose_is_cells_times_viability_rounded_to_whole_cells(cells: int, viability: Decimal) -> None:
    dose = viable_cd133_dose(total_cd133_cells=cells, viability_pct=viability)
    exact = Decimal(cells) * viability / 100
    assert abs(dose - exact) <= Decimal("0.5")
    assert 0 <= dose <= cells
    assert dose == dose.to_integral_value()


@pytest.mark.urs("URS-062")
@given(viability=st.decimals(allow_nan=False, allow_infinity=False, places=2))
def test_viability_outside_0_to_100_percent_is_refused(viability: Decimal) -> None:
    assume(not Decimal(0) <= viability <= Decimal(100))
    with pytest.raises(ValueError, match="percentage"):
        viable_cd133_dose(total_cd133_cells=100, viability_pct=viability)


@pytest.mark.urs("URS-060")
def test_between_limit_needs_an_ordered_upper_bound() -> None:
    with pytest.raises(ValueError, match="upper bound"):
        NumericLimit(Operator.BETWEEN, Decimal(10), "cells", upper=Decimal(5))
    with pytest.raises(ValueError, match="upper bound"):
        NumericLimit(Operator.GTE, Decimal(10), "%", upper=Decimal(20))
    assert NumericLimit(Operator.BETWEEN, Decimal(37000000), "cells", upper=Decimal(166000000)).describe() == (
        "37–166 × 10⁶ cells"
    )

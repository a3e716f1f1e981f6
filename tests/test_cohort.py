"""The cohort page: the trial's published figures, computed from patient outcomes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batches import cohort
from batches.cohort import PatientOutcome, TransferOutcome
from tests.custody_helpers import load_trial_cohort, trial_cohort_spec
from tests.factories import Personas
from tests.helpers import staff_client_for


def trial_outcomes() -> list[PatientOutcome]:
    return [
        PatientOutcome(code, cells, [TransferOutcome(*t) for t in transfers], grades)
        for code, cells, transfers, grades in trial_cohort_spec()
    ]


@pytest.mark.urs("URS-117")
def test_summary_of_the_published_cohort_reproduces_the_trial_figures() -> None:
    summary = cohort.summarize(trial_outcomes())
    assert summary.patients_treated == 20
    assert (summary.dose_min_cells, summary.dose_max_cells) == (37_000_000, 166_000_000)
    assert summary.embryo_transfers == 41
    assert (summary.implantations, summary.implantation_rate_pct) == (13, Decimal("31.7"))
    assert (summary.patients_pregnant, summary.cumulative_pregnancy_pct) == (11, Decimal("55.0"))
    assert (summary.patients_live_birth, summary.cumulative_live_birth_pct) == (6, Decimal("30.0"))
    assert summary.adverse_events_by_grade == {1: 11, 2: 1, 3: 0, 4: 0, 5: 0}


@pytest.mark.urs("URS-117")
def test_an_empty_cohort_has_no_rates_rather_than_a_division_by_zero() -> None:
    summary = cohort.summarize([])
    assert summary.patients_treated == 0
    assert summary.implantation_rate_pct is None
    assert summary.cumulative_pregnancy_pct is None
    assert "<svg" in cohort.dose_outcome_svg([])


@pytest.mark.urs("URS-117")
def test_pregnancy_and_live_birth_count_patients_not_transfers() -> None:
    twice = PatientOutcome("A", 50_000_000, [TransferOutcome(True, True, True), TransferOutcome(True, True, True)])
    never = PatientOutcome("B", 60_000_000, [TransferOutcome(False, False, False)])
    summary = cohort.summarize([twice, never])
    assert (summary.implantations, summary.embryo_transfers) == (2, 3)
    assert summary.cumulative_pregnancy_pct == Decimal("50.0")
    assert summary.cumulative_live_birth_pct == Decimal("50.0")


@pytest.mark.urs("URS-117")
def test_dose_outcome_plot_has_one_dot_per_patient_with_escaped_labels() -> None:
    outcomes = [*trial_outcomes(), PatientOutcome("<script>", 90_000_000)]
    svg = cohort.dose_outcome_svg(outcomes)
    assert svg.count("<circle") == 21
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


@pytest.mark.django_db
@pytest.mark.urs("URS-118")
def test_cohort_page_and_api_show_the_trial_figures_from_the_records(people: Personas) -> None:
    load_trial_cohort(people)
    client = staff_client_for(people.auditor)
    page = client.get("/admin/cohort/")
    assert page.status_code == 200
    html = page.content.decode()
    for figure in (
        "<td>20</td>",
        "37 × 10⁶ to 166 × 10⁶",
        "<td>41</td>",
        "31.7 % (13/41)",
        "55.0 % (11/20)",
        "30.0 % (6/20)",
        '<th scope="col">Grade 5</th>',
    ):
        assert figure in html, figure
    assert html.count("<circle") == 20
    assert "<td>no pregnancy</td>" in html

    spanish = client.get("/admin/cohort/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<td>sin embarazo</td>" in spanish  # the table and the plot's rows and dots speak the reader's language
    assert ">embarazo, sin nacido vivo</text>" in spanish
    assert "millones de células, nacido vivo</title>" in spanish
    assert "no pregnancy" not in spanish

    api = client.get("/api/v1/cohort/").json()
    assert api["patients_treated"] == 20
    assert (api["dose_min_cells"], api["dose_max_cells"]) == (37_000_000, 166_000_000)
    assert (api["embryo_transfers"], api["implantation_rate_pct"]) == (41, 31.7)
    assert (api["cumulative_pregnancy_pct"], api["cumulative_live_birth_pct"]) == (55.0, 30.0)
    assert api["adverse_events_by_grade"] == {"1": 11, "2": 1, "3": 0, "4": 0, "5": 0}
    spanish_api = client.get("/api/v1/cohort/", HTTP_ACCEPT_LANGUAGE="es").json()
    assert {p["outcome"] for p in spanish_api["patients"]} == {"no pregnancy", "pregnancy, no live birth", "live birth"}

    people.admin.is_staff = True
    client.force_login(people.admin)
    assert client.get("/api/v1/cohort/").status_code == 403

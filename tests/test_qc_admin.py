"""The QA review page lists what needs a decision before the record; entry pages go through the services."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django import forms
from django.utils import timezone

from batches import formatting
from batches.accounts.language import account_language_set
from qc.admin.specifications import DraftForm
from qc.models import Deviation, QcResult, Specification
from tests.factories import (
    PASSWORD,
    Personas,
    approved_specification,
    qc_sample,
    quarantined_batch,
    record_passing_qc,
    record_result,
)
from tests.helpers import assert_nothing_written, gmp_row_counts, staff_client_for

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-075")
def test_review_page_shows_exceptions_before_the_rest_of_the_record(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("endotoxin", "sterility", "gram_stain"))
    record_result(people, batch, "gram_stain", "organisms seen", sample=batch.qc_samples.first(), review=False)

    response = staff_client_for(people.qa).get(f"/admin/qa-review/{batch.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    oos = html.index("Gram stain: organisms seen is out of specification")
    deviation = html.index(f"Deviation {Deviation.objects.get(batch=batch).number}")
    missing = html.index("Endotoxin: no result (blocks release).")
    not_verified = html.index("Gram stain: result not reviewed by a second person.")
    # The rest of the record starts after every item that needs a decision.
    record = html.index('id="record"')
    results_table = html.index("QC results against the specification")
    steps = html.index("Manufacturing steps")
    assert max(oos, deviation, missing, not_verified) < record < results_table < steps
    assert html.index("Needs a decision") < oos


@pytest.mark.urs("URS-070")
def test_qa_releases_from_the_review_page_with_the_password(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    client = staff_client_for(people.qa)
    refused = client.post(f"/admin/qa-review/{batch.pk}/", {"decision": "release", "password": "wrong"})
    assert refused.status_code == 200
    assert "password is not correct" in refused.content.decode()
    batch.refresh_from_db()
    assert batch.status == "quarantine"
    done = client.post(f"/admin/qa-review/{batch.pk}/", {"decision": "release", "password": PASSWORD})
    assert done.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "awaiting_certification"  # released for administration by the QP's certification


@pytest.mark.urs("URS-065")
def test_result_entry_page_records_through_the_service_and_shows_the_computed_verdict(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    client = staff_client_for(people.qc_analyst)
    form = client.get("/admin/qc/qcresult/add/")
    assert form.status_code == 200
    assert "verdict is computed" in form.content.decode()
    tested_at = timezone.localtime(timezone.now() - timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")
    posted = client.post(
        "/admin/qc/qcresult/add/",
        {
            "sample": sample.pk,
            "test": "endotoxin",
            "value": "0.8",
            "unit": "EU/mL",
            "tested_at": tested_at,
            "password": PASSWORD,
        },
    )
    assert posted.status_code == 302, posted.content.decode()[:2000]
    result = QcResult.objects.get(batch=batch, test="endotoxin")
    assert result.verdict == "oos"
    page = client.get(posted["Location"]).content.decode()
    assert "Out of specification" in page
    bad = client.post(
        "/admin/qc/qcresult/add/",
        {
            "sample": sample.pk,
            "test": "endotoxin",
            "value": "0.1",
            "unit": "EU/mL",
            "tested_at": tested_at,
            "password": PASSWORD,
        },
    )
    assert bad.status_code == 200
    assert "only under an open investigation" in bad.content.decode()

    reviewer = staff_client_for(people.qc_reviewer)  # independent of production
    assert reviewer.post(f"/admin/qc/qcresult/{result.pk}/review/", {"password": PASSWORD}).status_code == 302
    result.refresh_from_db()
    assert result.verified_by == people.qc_reviewer
    page = reviewer.get(f"/admin/qc/qcresult/{result.pk}/change/").content.decode()
    assert f"Reviewed by qc_reviewer at {formatting.moment(result.verified_at)}</div>" in page


@pytest.mark.urs("URS-069")
def test_auditor_reads_the_review_page_but_cannot_add_or_decide(people: Personas) -> None:
    batch = quarantined_batch(people)
    client = staff_client_for(people.auditor)
    assert client.get(f"/admin/qa-review/{batch.pk}/").status_code == 200
    assert client.get("/admin/qc/deviation/add/").status_code == 403
    refused = client.post(
        f"/admin/qa-review/{batch.pk}/", {"decision": "reject", "comment": "no", "password": PASSWORD}
    )
    assert "requires the role QA reviewer" in refused.content.decode(), refused.content.decode()[
        refused.content.decode().find("errorlist") - 100 :
    ][:600]
    batch.refresh_from_db()
    assert batch.status == "quarantine"
    assert client.get("/admin/qa-review/999999/").status_code == 404


@pytest.mark.urs("URS-069")
def test_admin_action_pages_for_unknown_records_answer_404(people: Personas) -> None:
    client = staff_client_for(people.qa)
    for url in (
        "/admin/qc/deviation/999999/close/",
        "/admin/qc/deviation/999999/investigation/",
        "/admin/qc/qcresult/999999/review/",
        "/admin/qc/specification/999999/approve/",
    ):
        assert client.get(url).status_code == 404, url
    # The page says what was not found, in the site's own page and the reader's language.
    account_language_set(actor=people.qa, user=people.qa, language="es")
    missing = staff_client_for(people.qa).get("/admin/batches/equipment/999999/record/")
    assert missing.status_code == 404
    assert '<p id="not-found">No existe equipo con el identificador 999999.</p>' in missing.content.decode()
    nowhere = staff_client_for(people.qa).get("/admin/no-such-page/").content.decode()
    assert '<p id="not-found">No hay nada en esta dirección.</p>' in nowhere


def draft_post(**changes: object) -> dict[str, object]:
    """The draft form as it opens (every limit at its default), with ``changes`` applied."""
    form = DraftForm()
    data: dict[str, object] = {}
    for name, field in form.fields.items():
        value = field.initial
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    data |= {
        "product": "IGX1",
        "title": "IGX1 release specification, tighter purity",
        "requested_effective_from": timezone.localtime().strftime("%Y-%m-%d %H:%M:%S"),
        "max_collection_to_processing_hours": 24,
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


@pytest.mark.urs("URS-063")
def test_every_reader_sees_an_approved_specifications_limits_and_when_it_took_effect(people: Personas) -> None:
    spec = approved_specification(people)
    for reader in (people.qa, people.auditor):
        page = staff_client_for(reader).get(f"/admin/qc/specification/{spec.pk}/change/").content.decode()
        assert page.count('class="form-row has_original') == 7, reader  # one row per test of the version
        assert "Flow cytometry, single platform" in page
        assert f"Approved; effective from {formatting.moment(spec.effective_from)}" in page


@pytest.mark.urs("URS-063")
def test_qa_drafts_a_specification_in_the_admin_with_edited_limits(people: Personas) -> None:
    client = staff_client_for(people.qa)
    page = client.get("/admin/qc/specification/add/").content.decode()
    assert '<th scope="row">CD133+ purity</th>' in page  # one grid row per test
    assert re.search(r'name="limit__cd133_purity__value"[^>]*value="70', page)  # the default, ready to edit

    purity, sterility = "limit__cd133_purity__", "limit__sterility__"
    refused = client.post(
        "/admin/qc/specification/add/", draft_post(**{f"{purity}operator": "between", f"{purity}upper": ""})
    )
    assert refused.status_code == 200
    assert "upper bound" in refused.content.decode()
    assert not Specification.objects.exists()

    created = client.post(
        "/admin/qc/specification/add/",
        draft_post(**{f"{purity}value": "75", f"{sterility}blocks_release": None}),
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    spec = Specification.objects.get()
    limits = {limit.test: limit for limit in spec.limits.all()}
    assert len(limits) == 7
    assert (limits["cd133_purity"].operator, limits["cd133_purity"].value) == ("gte", Decimal("75"))
    assert limits["sterility"].blocks_release is False
    assert limits["viability"].value == Decimal("80")

    operator = staff_client_for(people.operator)
    before = gmp_row_counts()
    operator.post("/admin/qc/specification/add/", draft_post())
    assert_nothing_written(before)

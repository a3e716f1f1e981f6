"""The cover of the signed batch record opens with its exceptions and disposition."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from batches.pdf.collect import take_snapshot
from batches.pdf.render import render
from batches.selectors import person
from batches.snapshot import Snapshot
from qc import demo as qc_demo
from qc.services.deviations import deviation_close, deviation_open, deviation_update
from tests.factories import PASSING_RESULTS, PASSWORD, Personas, crew, quarantined_batch, release_batch
from tests.sample_snapshot import sample_snapshot

# The codes each section carries next to its labels since schema 5: a snapshot stored earlier has none.
CODES = {"release": "decision_code", "deviations": "status_code", "qc_results": "verdict_code"}
# The box's rows, in English and in Spanish.
ROWS = {
    "en-gb": ("Open deviations", "Out-of-specification results", "Pending tests", "Late entries"),
    "es": ("Desviaciones abiertas", "Resultados fuera de especificación", "Análisis pendientes", "Registros tardíos"),
}


def cover_text(snapshot: object) -> str:
    return " ".join(PdfReader(BytesIO(render(snapshot)[0])).pages[0].extract_text().split())  # type: ignore[arg-type]


def box_row(text: str, language: str, row: int) -> str:
    """What the cover's exceptions box says on row ``row`` of ROWS (up to the next row)."""
    return text.partition(f"{ROWS[language][row]} ")[2].partition(f" {ROWS[language][row + 1]}")[0]


def as_stored_before_the_codes(snapshot: Snapshot) -> Snapshot:
    """The snapshot as a revision of schema 4 stored it: the labels, in the record's language, and no codes."""
    stored = snapshot.to_dict()
    stored["schema"] = 4
    for section, code in CODES.items():
        for row in stored[section]:
            del row[code]
    return Snapshot.from_dict(stored)


@pytest.mark.urs("URS-434")
def test_the_cover_names_the_disposition_certification_and_every_exception() -> None:
    snapshot = sample_snapshot()
    opened = dataclasses.replace(snapshot.deviations[0], status="open", status_code="open")
    deviations = [opened, *snapshot.deviations[1:]]
    text = cover_text(dataclasses.replace(snapshot, deviations=deviations))
    assert "Exceptions and disposition" in text
    assert "Disposition Conditionally released by Dr. Inés Peña (QA)" in text
    assert "QP certification final certification by Dr. Søren Kierkegård (QP)" in text
    assert "Open deviations DEV-2026-014 (major, open): Endotoxin out of specification" in text
    assert "Out-of-specification results Endotoxin: 0.62 EU/mL" in text
    assert "Pending tests Sterility" in text
    assert "Late entries" in text


@pytest.mark.urs("URS-434")
def test_after_a_conditional_release_the_cover_tells_the_initial_certification_from_the_final() -> None:
    snapshot = sample_snapshot()
    qa, final = snapshot.release
    initial = dataclasses.replace(final, decision="Initial certification by the Qualified Person (results pending)")
    initial = dataclasses.replace(initial, decision_code="certified_initial")
    text = cover_text(dataclasses.replace(snapshot, release=[qa, initial, final]))
    expected = "initial certification (results pending) by Dr. Søren Kierkegård (QP)"
    assert f"QP certification {expected}" in text
    assert "; final certification by Dr. Søren Kierkegård (QP)" in text


@pytest.mark.urs("URS-434")
def test_a_record_without_exceptions_says_none_rather_than_leaving_the_box_out() -> None:
    snapshot = sample_snapshot(deviations=0)
    clean = dataclasses.replace(
        snapshot,
        qc_results=[r for r in snapshot.qc_results if r.verdict == "pass"],
        steps=[dataclasses.replace(step, late_entry_reason="") for step in snapshot.steps],
        release=[],
        expired_use=[],
    )
    text = cover_text(clean)
    assert "Disposition no decision yet QP certification not certified Open deviations none" in text
    assert "Out-of-specification results none Pending tests none Late entries none Use past expiry none" in text


@pytest.mark.urs("URS-434")
@pytest.mark.urs("URS-446")
def test_a_spanish_cover_finds_the_out_of_specification_and_pending_results() -> None:
    """The verdicts of a Spanish record are Spanish: the box goes by their codes, not by the words."""
    snapshot = sample_snapshot()
    spanish = {"fail (OOS)": "Fuera de especificación", "pending": "Pendiente", "pass": "Conforme"}
    qc_results = [dataclasses.replace(r, verdict=spanish[r.verdict]) for r in snapshot.qc_results]
    text = cover_text(dataclasses.replace(snapshot, language="es", qc_results=qc_results))
    assert "Resultados fuera de especificación Endotoxin: 0.62 EU/mL" in text
    assert "Análisis pendientes Sterility" in text


@pytest.mark.django_db
@pytest.mark.urs("URS-434")
@pytest.mark.urs("URS-446")
@pytest.mark.parametrize(
    ("language", "disposition", "certification"),
    [
        ("en-gb", "Disposition QA decision: release by", "QP certification final certification by"),
        (
            "es",
            "Decisión Decisión de GC: liberación por",
            "Certificación por la Persona Cualificada certificación final por",
        ),
    ],
)
def test_a_certified_batchs_cover_says_it_is_certified_and_by_whom(
    people: Personas, language: str, disposition: str, certification: str
) -> None:
    """Whatever the language of the record, and in a revision stored before the decisions carried their code."""
    batch = release_batch(people, quarantined_batch(people))
    snapshot = take_snapshot(batch, kind="release_record", revision=1, language=language)
    for record in (snapshot, as_stored_before_the_codes(snapshot)):
        text = cover_text(record)
        assert f"{disposition} {person(people.qa)}" in text
        assert f"{certification} {person(people.qp)}" in text
        assert snapshot.release[-1].decision not in text  # the certification is not one of QA's decisions


@pytest.mark.django_db
@pytest.mark.urs("URS-434")
@pytest.mark.urs("URS-446")
@pytest.mark.parametrize("language", ROWS)
def test_the_cover_lists_the_open_deviations_and_not_the_closed_ones(people: Personas, language: str) -> None:
    batch = quarantined_batch(people)
    raised = [
        deviation_open(
            actor=people.qc_analyst, batch_id=batch.pk, kind="unplanned", classification="minor", description=text
        )
        for text in ("Sample transported at room temperature.", "Bag label printed twice.")
    ]
    closed, still_open = raised
    investigation = {
        "investigation": "Courier used the wrong box.",
        "root_cause": "Two box types look alike.",
        "impact": "None: stable 4 h at RT.",
        "capa": "Boxes labelled by temperature.",
    }
    deviation_update(actor=people.qc_analyst, deviation_id=closed.pk, values=investigation)
    deviation_close(actor=people.qa, deviation_id=closed.pk, password=PASSWORD, closure_summary="Accepted, no impact.")
    snapshot = take_snapshot(batch, kind="on_request", revision=1, language=language)
    for record in (snapshot, as_stored_before_the_codes(snapshot)):
        listed = box_row(cover_text(record), language, 0)
        assert still_open.number in listed
        assert closed.number not in listed


@pytest.mark.django_db
@pytest.mark.urs("URS-434")
@pytest.mark.urs("URS-446")
@pytest.mark.parametrize("language", ROWS)
def test_the_cover_names_the_out_of_specification_and_pending_results_by_their_verdict(
    people: Personas, language: str
) -> None:
    batch = quarantined_batch(people)
    results = {test: value for test, value in PASSING_RESULTS.items() if test != "sterility"}
    qc_demo.record_qc(crew(people), batch, {**results, "cd133_purity": (Decimal("61.0"), "%")})
    snapshot = take_snapshot(batch, kind="on_request", revision=1, language=language)
    names = {r.verdict_code: r.test for r in snapshot.qc_results if r.verdict_code != "pass"}
    passed = [r.test for r in snapshot.qc_results if r.verdict_code == "pass"]
    for record in (snapshot, as_stored_before_the_codes(snapshot)):
        text = cover_text(record)
        assert box_row(text, language, 1).startswith(f"{names['oos']}: 61")
        assert box_row(text, language, 2) == names["pending"]
        assert not any(name in box_row(text, language, 1) for name in passed)


@pytest.mark.django_db
@pytest.mark.urs("URS-435")
def test_the_audit_trail_reads_in_words_in_the_admin_and_in_the_record() -> None:
    from django.urls import reverse

    from batches.pdf.collect import take_snapshot
    from batches.services import steps
    from tests.factories import PASSWORD, Personas, gcsf_values, scans, walk_batch
    from tests.helpers import client_for

    people = Personas()
    batch = walk_batch(people, "mobilization")
    steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    operator = f"Operator (operator) #{people.operator.pk}"

    page = client_for(people.auditor).get(reverse("admin:batches_batch_audit", args=[batch.pk])).content.decode()
    assert f'<span title="performed_by_id">Performed by</span>:\n              <ins>{operator}</ins>' in page
    assert '<span title="drug_lot">Filgrastim lot</span>' in page
    # A choice reads as its label in the reader's language; the export keeps the stored code.
    assert re.search(r'title="status">Status</span>:\s*<del>Registered</del>\s*→\s*<ins>Mobilization</ins>', page)

    trail = take_snapshot(batch, kind="on_request", revision=1).audit_trail
    created = next(e for e in trail if e.record.startswith("G-CSF administration") and e.action == "created")
    assert f"Performed by: {operator}" in created.changes
    assert "Filgrastim lot: FIL-24-117" in created.changes
    moved = next(e for e in trail if e.record.startswith("Batch") and "Status: Registered → Mobilization" in e.changes)
    assert moved.action == "changed"

    url = reverse("admin:batches_batch_audit", args=[batch.pk])
    spanish = client_for(people.auditor).get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert re.search(r"<del>Registrado</del>\s*→\s*<ins>Movilización</ins>", spanish)

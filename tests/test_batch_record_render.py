"""Drawing and sealing the batch record from a synthetic snapshot (no database)."""

from __future__ import annotations

import dataclasses
import json
import re
from io import BytesIO

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st
from pyhanko.pdf_utils.generic import StreamObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Table

from batches.pdf import fonts
from batches.pdf.render import custody, quality, render
from batches.pdf.render.layout import (
    FOOTER_H,
    FRAME_W,
    HEADER_H,
    MARGIN,
    PAD,
    PAGE_H,
    TABLE_LINES,
    Para,
    TablePieces,
    Writer,
    wrapped,
)
from batches.pdf.signing import seal_pdf
from batches.pdf.verify import check_seal
from batches.snapshot import Snapshot, digest
from tests.hostile_snapshot import FREE_TEXT, MARKUP, WORD, hostile_snapshot, long_text
from tests.sample_snapshot import sample_snapshot


@pytest.fixture(scope="module")
def rendered() -> tuple[bytes, int, list[str]]:
    pdf, pages = render(sample_snapshot())
    texts = [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]
    return pdf, pages, texts


@pytest.mark.urs("URS-089")
def test_every_page_shows_page_x_of_y_and_the_batch_number(rendered) -> None:
    _, pages, texts = rendered
    assert pages == len(texts) >= 8
    for number, text in enumerate(texts, 1):
        assert f"Page {number} of {pages}" in text
        assert "IGX1-2026-0042" in text


@pytest.mark.urs("URS-090")
def test_the_record_holds_every_section_with_unicode_text_and_the_hashes(rendered) -> None:
    _, _, texts = rendered
    whole = "\n".join(texts)
    snapshot = sample_snapshot()
    for needle in (
        "IGX1-S042",
        "G123426000042",
        "CHG12342600004X",
        "Quality control results against specification",
        "fail (OOS)",
        "Deviation DEV-2026-014",
        "Certified (QP)",
        "Left uterine artery",
        "Electronic signatures",
        "Appendix A. Audit trail",
        "Jörg Weiß",
        "Łukasz Żółć",
        "≥ 70 %",
        "µg/kg",
        "×",
        snapshot.sha256(),
        "sequence 1842",
    ):
        assert needle in whole, needle
    # A cell of several short lines keeps its line breaks (no glyph-less "?" in their place).
    assert "(QC analyst)\n2026-03-07 20:25:00 CET\nreviewed: Łukasz Żółć\n" in whole
    assert "?" not in whole
    # Signature manifestations carry UTC and local time.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", whole)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", whole)


@pytest.mark.urs("URS-091")
def test_the_same_snapshot_renders_to_the_same_bytes_and_survives_a_json_round_trip() -> None:
    snapshot = sample_snapshot(audit_events=10)
    again = Snapshot.from_dict(snapshot.to_dict())
    assert again == snapshot
    assert render(snapshot)[0] == render(again)[0]


@pytest.mark.urs("URS-092")
def test_a_sealed_record_checks_intact_and_trusted_and_a_flipped_byte_does_not(signing_pki) -> None:
    pdf, _ = render(sample_snapshot(audit_events=10))
    sealed = seal_pdf(pdf, title="test")
    check = check_seal(sealed)
    assert (check.intact, check.trusted) == (True, True)
    flipped = bytearray(sealed)
    flipped[len(flipped) // 2] ^= 0x20
    assert not check_seal(bytes(flipped)).intact
    assert not check_seal(b"%PDF-1.4 not a pdf").intact


@pytest.mark.urs("URS-092")
def test_a_page_changed_by_a_later_incremental_update_is_not_intact(signing_pki) -> None:
    """The signed bytes stay untouched when a revision is appended: the certification must catch it."""
    sealed = seal_pdf(render(sample_snapshot(audit_events=3))[0], title="test")
    writer = IncrementalPdfFileWriter(BytesIO(sealed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = writer.add_object(StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (Released) Tj ET"))
    writer.update_container(page)
    changed = BytesIO()
    writer.write(changed)

    check = check_seal(changed.getvalue())

    assert check.intact is False
    assert "changed after sealing" in " ".join(check.problems)


@pytest.mark.urs("URS-093")
def test_sections_without_data_say_so_instead_of_disappearing() -> None:
    empty = Snapshot.from_dict(
        {
            **sample_snapshot(audit_events=3).to_dict(),
            "qc_results": [],
            "deviations": [],
            "release": [],
            "infusion": [],
            "checkpoint": None,
        }
    )
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(render(empty)[0])).pages)
    assert "No QC result was recorded" in text
    assert "No deviation was recorded" in text
    assert "no audit checkpoint was recorded" in text


@given(st.text(alphabet=st.sampled_from("aZ09 <>&\"'\r\n\tµ≥×éŁ⁶₂→✓\u00a0\u4e2d"), max_size=40) | st.text(max_size=40))
def test_markup_fast_path_gives_what_character_by_character_markup_gives(value: str) -> None:
    assert fonts.markup(value) == fonts.markup_each(value)
    glyphs = fonts.register()
    assert fonts.plain(value) == "".join(ch if ord(ch) in glyphs else "?" for ch in value)


@given(
    st.lists(st.text(alphabet=st.sampled_from("aW0 .-é\u00a0"), max_size=300), min_size=1, max_size=4),
    st.floats(min_value=12, max_value=500),
)
def test_plain_text_is_wrapped_within_the_column_and_keeps_every_character(lines: list[str], room: float) -> None:
    """The cheap path for long plain cells: no line wider than the column, nothing lost or reordered."""
    fonts.register()
    font = fonts.REGULAR
    out = wrapped(lines, font, 8, room)
    assert all(stringWidth(line, font, 8) <= room for line in out)
    assert re.sub(r"\s+", "", "".join(out)) == re.sub(r"\s+", "", "".join(lines))
    assert len(out) >= len(lines)


def test_snapshot_dict_form_is_what_dataclasses_asdict_gives() -> None:
    snapshot = sample_snapshot(audit_events=25)
    assert snapshot.to_dict() == dataclasses.asdict(snapshot)
    assert snapshot.sha256() == digest(json.loads(json.dumps(snapshot.to_dict())))


def test_a_record_of_hostile_free_text_builds_in_bounded_pages_and_prints_all_of_it() -> None:
    """5,000-character free text everywhere, each with a 600-character word and markup characters."""
    snapshot = hostile_snapshot(5000)
    fields = [
        getattr(row, name)
        for section, names in FREE_TEXT.items()
        for row in getattr(snapshot, section)
        for name in names
    ]
    assert len(fields) >= 30
    assert all(len(value) == 5000 for value in fields)

    pdf, pages = render(snapshot)

    texts = [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]
    assert pages == len(texts)
    # About a page and a half per 5,000-character field at most, plus the record around them.
    assert pages <= 2 * len(fields) + 10
    whole = "\n".join(texts)
    for section, names in FREE_TEXT.items():
        for n, _row in enumerate(getattr(snapshot, section)):
            for name in names:
                assert f"[{section}.{name}.{n}]" in whole
                assert f"[/{section}.{name}.{n}]" in whole
    # The unbroken word is broken across lines (and, in a long cell, across rows) but never lost.
    flat = re.sub(r"\s+", "", whole)
    assert flat.count("x") >= len(fields) * (len(WORD) - 2)
    assert WORD in flat
    # Markup characters print as text: nothing is interpreted as a tag.
    assert re.sub(r"\s+", "", MARKUP) in flat


def test_a_long_cell_continues_in_rows_of_at_most_a_bounded_height() -> None:
    """A table cell never grows taller than a page: long text is cut into bounded rows."""
    fonts.register()
    writer = Writer(sample_snapshot(audit_events=1), {}, "0" * 64)
    width = 0.07 * FRAME_W  # the narrowest column of the record
    value = long_text("narrow", 5000)

    pieces = writer.bounded(value, width, "small")

    assert len(pieces) > 1
    assert re.sub(r"\s+", "", "".join(pieces)) == re.sub(r"\s+", "", value)
    table = writer.table(["Action"], [[value]], [0.07], small=True)
    for piece in table.pieces if isinstance(table, TablePieces) else [table]:
        for row in piece._cellvalues[1:]:
            cell = row[0]
            height = cell.wrap(width - 2 * PAD, PAGE_H)[1] if hasattr(cell, "wrap") else 8.2 * (cell.count("\n") + 1)
            assert height < PAGE_H - 2 * MARGIN - HEADER_H - FOOTER_H


@pytest.mark.urs("URS-223")
def test_a_long_audit_appendix_prints_every_event_in_pieces_each_with_its_header() -> None:
    """2,000 events: drawn as tables of bounded length (flat cost per page), nothing lost or repeated."""
    snapshot = sample_snapshot(audit_events=2000)
    writer = Writer(snapshot, {}, "0" * 64)
    fonts.register()

    table = writer.table(["When"], [[e.at] for e in snapshot.audit_trail], [0.2], small=True)
    assert isinstance(table, TablePieces)
    assert all(len(piece._cellvalues) <= TABLE_LINES + 1 for piece in table.pieces)
    assert sum(len(piece._cellvalues) - 1 for piece in table.pieces) == 2000

    pdf, _ = render(snapshot)
    texts = [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]
    appendix = [text for text in texts if "G-CSF administration #" in text]
    assert len(appendix) >= 2000 // TABLE_LINES
    assert all("Actor" in text and "Changes" in text for text in appendix)  # the header on every page
    whole = "\n".join(appendix)
    assert all(f"G-CSF administration #{n}" in whole for n in range(1, 501))


def printed_verdicts(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Each QC verdict and identity-scan outcome the record prints: its words and its colour ('' for none)."""
    fonts.register()
    writer = Writer(snapshot, {}, "0" * 64)
    with translation.override(snapshot.language):
        quality.qc(writer)
        custody.infusion(writer)
    tables = [
        t for flowable in writer.story for t in (flowable.pieces if isinstance(flowable, TablePieces) else [flowable])
    ]
    cells = [row[3] for t in tables if isinstance(t, Table) for row in t._cellvalues[1:] if isinstance(row[3], Para)]
    found = [re.fullmatch(r'(?:<font color="(#\w+)"><b>)?(.*?)(?:</b></font>)?', cell.text) for cell in cells]
    return [(m.group(2), m.group(1) or "") for m in found if m]


@pytest.mark.urs("URS-446")
def test_a_spanish_record_colours_its_verdicts_and_scan_outcomes_as_an_english_one() -> None:
    english = sample_snapshot()
    verdicts = {"pass": "Conforme", "fail (OOS)": "Fuera de especificación", "pending": "Pendiente"}
    spanish = dataclasses.replace(
        english,
        language="es",
        qc_results=[dataclasses.replace(r, verdict=verdicts[r.verdict]) for r in english.qc_results],
        identity_scans=[
            dataclasses.replace(s, outcome=s.outcome.replace("match", "coincide").replace("REFUSED", "RECHAZADO"))
            for s in english.identity_scans
        ],
    )
    colours = [colour for _, colour in printed_verdicts(english)]
    assert [words for words, _ in printed_verdicts(spanish)][4:9] == [
        "Fuera de especificación",
        "Pendiente",
        "Conforme",
        "coincide",
        "RECHAZADO: the bag belongs to another batch. Stop: do not infuse.",
    ]
    assert colours == ["#1b6e20"] * 4 + ["#b00020", "#a05a00", "#1b6e20", "#1b6e20", "#b00020", "#1b6e20"]
    assert [colour for _, colour in printed_verdicts(spanish)] == colours
    # A revision stored before the codes: its outcomes and verdicts were the English words.
    stored = english.to_dict()
    for section, code in (("qc_results", "verdict_code"), ("identity_scans", "outcome_code")):
        for row in stored[section]:
            del row[code]
    assert [colour for _, colour in printed_verdicts(Snapshot.from_dict(stored))] == colours

"""One way to show a time and a number (batches.formatting), on screen and in the signed record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from django.template import Context, Template
from django.utils import translation
from pypdf import PdfReader

from batches import formatting
from batches.pdf.render import render
from batches.release.documents import build_pdf
from tests.sample_snapshot import sample_snapshot

SUMMER = datetime(2026, 5, 4, 9, 12, 3, tzinfo=UTC)  # CEST, UTC+2
WINTER_NIGHT = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)  # CET, already 11 January in Madrid
NNBSP = "\u202f"


@pytest.mark.urs("URS-440")
def test_a_time_is_local_with_its_zone_and_utc_beside_it_where_both_are_needed() -> None:
    assert formatting.moment(SUMMER) == "2026-05-04 11:12 CEST"
    assert formatting.moment(SUMMER, seconds=True) == "2026-05-04 11:12:03 CEST"
    assert formatting.moment_utc(SUMMER) == "2026-05-04 09:12:03 UTC"
    assert formatting.moment_both(SUMMER) == "2026-05-04 11:12:03 CEST (09:12:03 UTC)"
    # Across midnight the UTC part names its own date, so no reader takes it for the local day.
    assert formatting.moment_both(WINTER_NIGHT) == "2026-01-11 00:30:00 CET (2026-01-10 23:30:00 UTC)"
    assert formatting.day(WINTER_NIGHT) == "2026-01-11"
    assert formatting.day(date(2026, 3, 2)) == "2026-03-02"
    # The record's stored ISO strings read the same way.
    assert formatting.moment_both("2026-05-04T09:12:03+00:00") == "2026-05-04 11:12:03 CEST (09:12:03 UTC)"
    assert formatting.moment(None) == formatting.moment_both("") == "—"
    with pytest.raises(ValueError, match="no time zone"):
        formatting.moment(datetime(2026, 5, 4, 9, 12))


@pytest.mark.urs("URS-440")
def test_the_same_time_reads_the_same_in_spanish() -> None:
    with translation.override("es"):
        assert formatting.moment_both(SUMMER) == "2026-05-04 11:12:03 CEST (09:12:03 UTC)"


@pytest.mark.urs("URS-441")
def test_numbers_group_with_a_narrow_space_and_take_the_languages_decimal_mark() -> None:
    with translation.override("en"):
        assert formatting.number(48_000) == f"48{NNBSP}000"
        assert formatting.number(2026) == "2026"  # four digits stay whole (SI)
        assert formatting.number(Decimal("96.2")) == "96.2"
        assert formatting.number(Decimal("1234567.891")) == f"1{NNBSP}234{NNBSP}567.891"
        assert formatting.number(Decimal("-3.5")) == "−3.5"
        assert formatting.number(Decimal("2.345"), 1) == "2.3"
    with translation.override("es"):
        assert formatting.number(Decimal("96.2")) == "96,2"
        assert formatting.number(48_000) == f"48{NNBSP}000"
    assert "," not in formatting.number(48_000_000_000)


@pytest.mark.urs("URS-441")
def test_cell_counts_are_written_with_their_power_of_ten_never_with_commas() -> None:
    with translation.override("en"):
        assert formatting.cells(131_000_000) == "131 × 10⁶"
        assert formatting.cells(124_450_000) == "124.45 × 10⁶"
        assert formatting.cells(48_000_000_000) == "48 × 10⁹"
        assert formatting.cells(1_500_000_000) == "1.5 × 10⁹"
        assert formatting.cells(999_999) == f"999{NNBSP}999"
        assert formatting.cells(None) == "—"
    with translation.override("es"):
        assert formatting.cells(124_450_000) == "124,45 × 10⁶"


@pytest.mark.urs("URS-440")
def test_templates_and_the_admin_show_the_same_one_format() -> None:
    template = Template(
        "{% load cellbatch %}{{ t|when }}|{{ t|when_both }}|{{ t|when_utc }}|{{ t|day }}|"
        "{{ n|cells }}|{{ d|number }}|{{ t }}"
    )
    context = Context({"t": SUMMER, "n": 131_000_000, "d": Decimal("96.2")})
    with translation.override("en-gb"):
        assert template.render(context).split("|") == [
            "2026-05-04 11:12 CEST",
            "2026-05-04 11:12:03 CEST (09:12:03 UTC)",
            "2026-05-04 09:12:03 UTC",
            "2026-05-04",
            "131 × 10⁶",
            "96.2",
            # Django's own rendering (admin lists, {{ value }}) uses the project's formats (config/formats).
            "2026-05-04 11:12 CEST",
        ]
    with translation.override("es"):
        assert template.render(context).split("|")[5:] == ["96,2", "2026-05-04 11:12 CEST"]


@pytest.mark.urs("URS-442")
def test_the_record_is_dated_at_its_issue_and_embeds_every_font(signing_pki) -> None:
    snapshot = sample_snapshot()
    sealed, _ = build_pdf(snapshot)
    issued = datetime.fromisoformat(snapshot.taken_at).astimezone(UTC)
    for data in (render(snapshot)[0], sealed):
        reader = PdfReader(BytesIO(data))
        meta = reader.metadata
        assert meta is not None
        assert meta["/CreationDate"] == issued.strftime("D:%Y%m%d%H%M%S+00'00'")
        assert "D:2000" not in str(meta.get("/ModDate", ""))
        fonts = {}
        for page in reader.pages:
            for font in page["/Resources"].get("/Font", {}).values():
                font = font.get_object()
                descriptor = font.get("/FontDescriptor")
                if descriptor is None and "/DescendantFonts" in font:
                    descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
                embedded = descriptor is not None and any(
                    k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                fonts[str(font["/BaseFont"])] = embedded
        assert fonts
        assert all(fonts.values()), fonts
    # The same snapshot still gives the same bytes.
    assert render(snapshot)[0] == render(snapshot)[0]


@pytest.mark.urs("URS-441")
def test_the_record_prints_cell_counts_unambiguously() -> None:
    whole = "\n".join(page.extract_text() for page in PdfReader(BytesIO(render(sample_snapshot())[0])).pages)
    assert "000,000" not in whole

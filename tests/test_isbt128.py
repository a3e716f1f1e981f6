"""ISBT 128 identifiers: check character, flags, scan parsing, chain-of-identity identifier (no database)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batches import isbt128
from batches.isbt128 import ALPHABET, IdentifierError

WORKED_EXAMPLE = "G123417654321"


def reference_check_character(data: str) -> str:
    """docs/domain.md §Check character, written out: weight 2^n, n = 1 at the right; C = (38 − S mod 37) mod 37."""
    total = sum(ALPHABET.index(ch) * 2 ** (n + 1) for n, ch in enumerate(reversed(data)))
    return ALPHABET[(38 - total % 37) % 37]


fins = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"),
    st.text("0123456789", min_size=4, max_size=4),
)
dins = st.builds(
    lambda fin, year, seq: isbt128.format_din(fin=fin, year=year, sequence=seq),
    fins,
    st.integers(0, 99),
    st.integers(1, isbt128.SEQUENCE_MAX),
)


@pytest.mark.urs("URS-100")
def test_iccbba_worked_example_gives_check_character_a_and_flags_70() -> None:
    assert isbt128.din_check_character(WORKED_EXAMPLE) == "A"
    assert isbt128.din_flags(WORKED_EXAMPLE) == "70"
    din = isbt128.Din(WORKED_EXAMPLE)
    assert din.barcode_data == "=G12341765432170"
    assert din.eye_readable == "G1234 17 654321"


@pytest.mark.urs("URS-100")
def test_library_check_character_agrees_with_the_published_formula_on_a_second_example() -> None:
    # python-stdnum's own documented example.
    assert isbt128.din_check_character("G123489654321") == "Y" == reference_check_character("G123489654321")


@pytest.mark.urs("URS-100")
@given(dins)
def test_library_check_character_agrees_with_the_published_formula(din: str) -> None:
    assert isbt128.din_check_character(din) == reference_check_character(din)


def _with_check(din: str) -> str:
    return din + isbt128.din_check_character(din)


def _is_valid(full: str) -> bool:
    body, check = full[:-1], full[-1]
    return reference_check_character(body) == check


@pytest.mark.urs("URS-100")
@given(dins, st.integers(0, 13), st.sampled_from(ALPHABET))
def test_every_single_character_substitution_is_detected(din: str, position: int, replacement: str) -> None:
    full = _with_check(din)
    if full[position] == replacement:
        return
    altered = full[:position] + replacement + full[position + 1 :]
    assert not _is_valid(altered)


@pytest.mark.urs("URS-100")
@given(dins, st.integers(0, 12))
def test_every_adjacent_transposition_is_detected(din: str, position: int) -> None:
    full = _with_check(din)
    a, b = full[position], full[position + 1]
    if a == b:
        return
    swapped = full[:position] + b + a + full[position + 2 :]
    assert not _is_valid(swapped)


@pytest.mark.urs("URS-100")
def test_every_substitution_and_transposition_of_the_worked_example_is_detected_exhaustively() -> None:
    full = _with_check(WORKED_EXAMPLE)
    for i in range(len(full)):
        for ch in ALPHABET:
            if ch != full[i]:
                assert not _is_valid(full[:i] + ch + full[i + 1 :]), (i, ch)
    for i in range(len(full) - 1):
        if full[i] != full[i + 1]:
            assert not _is_valid(full[:i] + full[i + 1] + full[i] + full[i + 2 :]), i


@pytest.mark.urs("URS-101")
@pytest.mark.parametrize(
    "scan",
    [
        "=G12341765432170",
        "G12341765432170",
        "=G123417654321",
        "G123417654321",
        "G123417654321A",
        " =g1234 17 654321 70 ",
    ],
)
def test_accepted_scan_forms_parse_to_the_din(scan: str) -> None:
    assert isbt128.parse_din_scan(scan).value == WORKED_EXAMPLE


@pytest.mark.urs("URS-101")
@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("", "empty"),
        ("=G1234176543", "too short"),
        ("=G12341765432171", "Flag characters 71 do not match"),
        ("G123417654321B", "Check character 'B' does not match"),
        ("=O12341765432170", "not a DIN"),
        ("=G1234176543X170", "not a DIN"),
        ("=G12341765432199", "not defined"),
        ("=G123417654321700", "unexpected characters"),
    ],
)
def test_invalid_scans_are_refused_with_a_clear_reason(scan: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        isbt128.parse_din_scan(scan)


@pytest.mark.urs("URS-101")
@given(dins, st.integers(0, 14), st.sampled_from(ALPHABET[:36]))
def test_a_misread_character_in_a_flagged_barcode_never_parses_to_another_din(din: str, pos: int, ch: str) -> None:
    barcode = isbt128.Din(din).barcode_data[1:]  # without '='
    altered = barcode[:pos] + ch + barcode[pos + 1 :]
    if altered == barcode:
        return
    try:
        parsed = isbt128.parse_din_scan("=" + altered)
    except IdentifierError:
        return
    # Only a change confined to the (informational) flag characters can still parse, and then to the same DIN.
    assert parsed.value == din


@pytest.mark.urs("URS-102")
def test_chain_of_identity_identifier_has_prefix_fin_year_serial_and_a_check_character() -> None:
    coi = isbt128.coi_identifier(fin="G1234", year=2026, serial="000042")
    assert coi.startswith("CHG123426000042")
    assert len(coi) == 16
    assert coi[-1] == reference_check_character(coi[:-1])
    assert isbt128.validate_coi(coi) == coi
    with pytest.raises(IdentifierError, match="check character"):
        isbt128.validate_coi(coi[:-1] + ("0" if coi[-1] != "0" else "1"))


@pytest.mark.urs("URS-102")
def test_din_format_and_facility_number_are_validated() -> None:
    assert isbt128.format_din(fin="G1234", year=2017, sequence=654321) == WORKED_EXAMPLE
    with pytest.raises(IdentifierError, match="Facility identification number"):
        isbt128.format_din(fin="O1234", year=2017, sequence=1)
    with pytest.raises(IdentifierError, match="outside"):
        isbt128.format_din(fin="G1234", year=2017, sequence=1_000_000)
    with pytest.raises(IdentifierError):
        isbt128.din_check_character("G12341765432")


@pytest.mark.urs("URS-102")
def test_product_code_is_a_clinical_trial_cellular_or_local_code() -> None:
    assert isbt128.product_code_barcode_data("YA001") == "=<YA001100"
    for good in ("S1128", "YZ999", "D0001"):
        assert isbt128.validate_product_code(good) == good
    for bad in ("E0001", "Y1234", "YA01", ""):
        with pytest.raises(IdentifierError, match="Product code"):
            isbt128.validate_product_code(bad)


def test_date_time_barcodes_use_century_year_day_of_year_hours_minutes() -> None:
    moment = datetime(2026, 2, 1, 9, 5)
    assert isbt128.expiry_barcode_data(moment) == "&>0260320905"
    assert isbt128.collection_barcode_data(moment) == "&*0260320905"

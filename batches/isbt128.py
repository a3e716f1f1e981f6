"""ISBT 128 identifiers of the chain of identity (docs/domain.md §ISBT 128): pure functions, no database.

- DIN (Donation Identification Number, data structure 001): facility identification number (FIN,
  5 characters) + two-digit year + six-digit sequence, printed with an ISO/IEC 7064 MOD 37-2 check
  character in a box and carried in barcodes as ``=`` + DIN + two flag characters (60 + check value).
- Chain of Identity identifier: ``CH`` + FIN + year + 6 characters + MOD 37-2 check character.
- Product code: the 5-character product description code (clinical-trial ``Y`` codes by default).

The check character comes from python-stdnum's ISO 7064 implementation (maintained, tested);
the tests cross-check it against the formula written out in docs/domain.md §Check character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from stdnum.iso7064 import mod_37_2

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
DIN_DATA_IDENTIFIER = "="
# Flag type 3: the check character's value + 60, so a scanner can verify the DIN it read.
CHECK_FLAG_OFFSET = 60
SEQUENCE_MAX = 999_999

FIN_RE = re.compile(r"^[A-NP-Z1-9][0-9]{4}$")
DIN_RE = re.compile(r"^([A-NP-Z1-9][0-9]{4})([0-9]{2})([0-9]{6})$")
COI_RE = re.compile(r"^CH([A-NP-Z1-9][0-9]{4})([0-9]{2})([0-9A-Z]{6})([0-9A-Z*])$")
PRODUCT_CODE_RE = re.compile(r"^(S[0-9]{4}|Y[A-Z][0-9]{3}|D[0-9A-Z][0-9]{3})$")


class IdentifierError(ValueError):
    """An identifier or scanned barcode that is not a valid ISBT 128 value; the message says why."""


def din_check_character(din: str) -> str:
    """The ISO/IEC 7064 MOD 37-2 check character of a 13-character DIN (``G123417654321`` → ``A``)."""
    validate_din_body(din)
    return str(mod_37_2.calc_check_digit(din, alphabet=ALPHABET))


def check_value(character: str) -> int:
    """The numeric value 0–36 of a check character."""
    if len(character) != 1 or character not in ALPHABET:
        raise IdentifierError(f"{character!r} is not an ISO 7064 MOD 37-2 check character.")
    return ALPHABET.index(character)


def din_flags(din: str) -> str:
    """The two type-3 flag characters that follow the DIN in its barcode (``G123417654321`` → ``70``)."""
    return f"{CHECK_FLAG_OFFSET + check_value(din_check_character(din)):02d}"


def validate_fin(fin: str) -> str:
    if not FIN_RE.match(fin or ""):
        raise IdentifierError(
            f"Facility identification number {fin!r} must be 5 characters: a letter A–N or P–Z or a digit 1–9, "
            "then 4 digits."
        )
    return fin


def validate_din_body(din: str) -> str:
    if not isinstance(din, str) or not DIN_RE.match(din):
        raise IdentifierError(
            f"{din!r} is not a DIN: expected 13 characters, a facility number (5), year (2) and sequence (6), "
            "e.g. G123417654321."
        )
    return din


def format_din(*, fin: str, year: int, sequence: int) -> str:
    """The 13-character DIN of ``sequence`` in ``year`` at facility ``fin``."""
    validate_fin(fin)
    if not 1 <= sequence <= SEQUENCE_MAX:
        raise IdentifierError(f"DIN sequence {sequence} is outside 1–{SEQUENCE_MAX}.")
    return f"{fin}{year % 100:02d}{sequence:06d}"


@dataclass(frozen=True)
class Din:
    """A validated DIN with everything printed or encoded from it."""

    value: str

    def __post_init__(self) -> None:
        validate_din_body(self.value)

    @property
    def fin(self) -> str:
        return self.value[:5]

    @property
    def year(self) -> str:
        return self.value[5:7]

    @property
    def sequence(self) -> str:
        return self.value[7:]

    @property
    def check_character(self) -> str:
        return din_check_character(self.value)

    @property
    def flags(self) -> str:
        return din_flags(self.value)

    @property
    def barcode_data(self) -> str:
        """Data structure 001 as encoded in the Code 128 barcode: ``=G12341765432170``."""
        return f"{DIN_DATA_IDENTIFIER}{self.value}{self.flags}"

    @property
    def eye_readable(self) -> str:
        """Spaced eye-readable form; the check character is printed separately, boxed."""
        return f"{self.fin} {self.year} {self.sequence}"

    def __str__(self) -> str:
        return self.value


def parse_din_scan(data: str) -> Din:
    """Parse what a scanner or a keyboard gives for a DIN, refusing anything that does not check out.

    Accepted: ``=`` + DIN + flags (the barcode), DIN + flags, ``=`` + DIN, the bare DIN, and the DIN
    followed by its check character as printed in the box. Flags 60–96 must match the check character;
    00–59 are informational flags (ISBT 128 types 1 and 2) and are not a check.
    """
    raw = (data or "").strip()
    cleaned = raw.replace(" ", "").upper()
    if not cleaned:
        raise IdentifierError("The scan is empty: scan the DIN barcode on the bag.")
    if cleaned.startswith(DIN_DATA_IDENTIFIER):
        cleaned = cleaned[1:]
    if len(cleaned) < 13:
        raise IdentifierError(f"{raw!r} is too short for a DIN (13 characters after the '=' data identifier).")
    body, tail = cleaned[:13], cleaned[13:]
    try:
        din = Din(body)
    except IdentifierError as exc:
        raise IdentifierError(f"{raw!r} is not a DIN barcode: {exc}") from exc
    if tail == "":
        return din
    if len(tail) == 1:
        if tail != din.check_character:
            raise IdentifierError(
                f"Check character {tail!r} does not match DIN {din.value} (expected {din.check_character!r}): "
                "a character was misread or mistyped."
            )
        return din
    if len(tail) == 2 and tail.isdigit():
        flag = int(tail)
        if CHECK_FLAG_OFFSET <= flag <= CHECK_FLAG_OFFSET + len(ALPHABET) - 1:
            if tail != din.flags:
                raise IdentifierError(
                    f"Flag characters {tail} do not match DIN {din.value} (expected {din.flags}): the scan is corrupt."
                )
        elif flag >= CHECK_FLAG_OFFSET:
            raise IdentifierError(f"Flag characters {tail} are not defined by ISBT 128.")
        return din
    raise IdentifierError(f"{raw!r} has unexpected characters after the DIN: {tail!r}.")


def coi_identifier(*, fin: str, year: int, serial: str) -> str:
    """Chain of Identity identifier: ``CH`` + FIN + year + 6 characters + check character (over all before it)."""
    validate_fin(fin)
    if not re.match(r"^[0-9A-Z]{6}$", serial):
        raise IdentifierError(f"Chain of identity serial {serial!r} must be 6 capital letters or digits.")
    body = f"CH{fin}{year % 100:02d}{serial}"
    return body + str(mod_37_2.calc_check_digit(body, alphabet=ALPHABET))


def validate_coi(value: str) -> str:
    cleaned = (value or "").strip().upper()
    if not COI_RE.match(cleaned):
        raise IdentifierError(f"{value!r} is not a chain of identity identifier (CH + FIN + year + 6 + check).")
    if not mod_37_2.is_valid(cleaned, alphabet=ALPHABET):
        raise IdentifierError(f"Chain of identity identifier {value!r} fails its check character.")
    return cleaned


def validate_product_code(code: str) -> str:
    """A 5-character ISBT 128 product description code: S (cellular therapy), Y (clinical trial) or D (local)."""
    if not PRODUCT_CODE_RE.match(code or ""):
        raise IdentifierError(
            f"Product code {code!r} must be S + 4 digits, Y + a letter + 3 digits (clinical trial) "
            "or D + 4 characters (facility-local)."
        )
    return code


# Type of donation "1": for autologous use only; divisions "00": the product is not divided.
AUTOLOGOUS_USE_ONLY = "1"


def product_code_barcode_data(code: str) -> str:
    """Data structure 003 (``=<`` + product description code + type of donation + divisions)."""
    return f"=<{validate_product_code(code)}{AUTOLOGOUS_USE_ONLY}00"


def _julian(moment: datetime) -> str:
    """``cyyjjjhhmm``: century digit, year, day of year, hours and minutes (local time of the label)."""
    century = (moment.year // 100) % 10
    return f"{century}{moment:%y}{moment.timetuple().tm_yday:03d}{moment:%H%M}"


def expiry_barcode_data(moment: datetime) -> str:
    """Data structure 005, expiration date and time: ``&>cyyjjjhhmm``."""
    return f"&>{_julian(moment)}"


def collection_barcode_data(moment: datetime) -> str:
    """Data structure 007, collection date and time: ``&*cyyjjjhhmm``."""
    return f"&*{_julian(moment)}"

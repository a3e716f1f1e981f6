"""Bag labels in ZPL II for the thermal printers of blood and tissue establishments (203 dpi, 100 × 100 mm).

The same ``LabelData`` as the PDF (``batches.labels``), the same ISBT 128 quadrants. Barcodes are
Code 128 (``^BC``) started in subset B (``>:``); in ZPL's subset B ``>`` is written ``><`` (the ISBT 128
data identifiers ``=<`` and ``&>`` contain it). Text fields go through ``^FH`` so that ``^``, ``~`` and
``_`` typed in a name cannot end the field or start a command.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from batches import isbt128
from batches.labels import LabelData

DOTS_PER_MM = 8  # 203 dpi
SIZE = 100 * DOTS_PER_MM
HALF = SIZE // 2
MARGIN = 3 * DOTS_PER_MM
START_SUBSET_B = ">:"


def code128_field(data: str) -> str:
    """``data`` as the field data of a ``^BC`` barcode in subset B."""
    if any(not 32 <= ord(c) < 127 or c in "^~" for c in data):
        raise ValueError(f"{data!r} cannot be encoded in a Code 128 subset B field.")
    return START_SUBSET_B + data.replace(">", "><")


def text_field(text: str) -> str:
    """``text`` for a ``^FH`` field: the characters ZPL reads as commands, and its own escape, in hex."""
    return "".join(f"_{ord(c):02X}" if c in "_^~" else c for c in text)


def _barcode(x: int, y: int, data: str, *, height: int = 64, module: int = 2) -> str:
    return f"^FO{x},{y}^BY{module}^BCN,{height},N,N,N,N^FD{code128_field(data)}^FS"


def _text(x: int, y: int, text: str, *, size: int = 20, bold: bool = False) -> str:
    width = size + 4 if bold else size
    return f"^FO{x},{y}^A0N,{size},{width}^FH^FD{text_field(text)}^FS"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "not applicable"
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M} {local:%Z} (UTC{local:%z})"


def label_zpl(label: LabelData) -> str:
    """One label as a ZPL II format (``^XA`` … ``^XZ``)."""
    din = isbt128.Din(label.din)
    codes = label.barcodes
    left, right = MARGIN, HALF + MARGIN
    parts = ["^XA", "^CI28", f"^PW{SIZE}", f"^LL{SIZE}", "^LH0,0"]
    parts += [f"^FO{HALF},{MARGIN}^GB2,{SIZE - 2 * MARGIN},2^FS", f"^FO{MARGIN},{HALF}^GB{SIZE - 2 * MARGIN},2,2^FS"]
    # Upper left: the DIN, its flags and the boxed check character.
    parts += [
        _text(left, MARGIN, "Donation Identification Number (ISBT 128)", size=16),
        _barcode(left, MARGIN + 24, codes["din"], height=80),
        _text(left, MARGIN + 116, din.eye_readable, size=30, bold=True),
        _text(left + 290, MARGIN + 112, din.flags, size=16),
        f"^FO{left + 320},{MARGIN + 108}^GB40,40,3^FS",
        _text(left + 330, MARGIN + 114, din.check_character, size=30, bold=True),
    ]
    # Upper right: the product code, the bag, the particulars.
    y = MARGIN + 24
    parts += [_text(right, MARGIN, "Product code", size=16), _barcode(right, y, codes["product"], height=80)]
    y += 92
    parts.append(_text(right, y, label.product_code, size=30, bold=True))
    for line in [label.product_name, label.bag, "For clinical trial use only", *label.particulars]:
        y += 34 if y < MARGIN + 160 else 24
        parts.append(_text(right, y, line, size=18))
    # Lower left: collection and expiry.
    y = HALF + MARGIN
    parts.append(_text(left, y, "Collection date and time", size=16))
    if "collection" in codes:
        parts.append(_barcode(left, y + 22, codes["collection"], height=48))
    parts.append(_text(left, y + 78, _when(label.collected_at), size=18))
    parts.append(_text(left, y + 116, "EXPIRY date and time", size=20, bold=True))
    if "expiry" in codes:
        parts.append(_barcode(left, y + 140, codes["expiry"], height=48))
    parts.append(_text(left, y + 196, _when(label.expires_at), size=20, bold=label.expires_at is not None))
    # Lower right: autologous use only, the patient, the chain of identity, the label's own id.
    y = HALF + MARGIN
    parts += [
        f"^FO{right},{y}^GB{HALF - 2 * MARGIN},52,4^FS",
        _text(right + 10, y + 14, "FOR AUTOLOGOUS USE ONLY", size=22, bold=True),
        _text(right, y + 64, "Patient (trial subject code)", size=16),
        _text(right, y + 84, label.subject_code, size=30, bold=True),
    ]
    if label.coi_identifier:
        parts += [_barcode(right, y + 122, codes["coi"], height=44), _text(right, y + 172, label.coi_identifier)]
    if label.label_id:
        parts += [_barcode(right, y + 200, codes["label"], height=36), _text(right, y + 240, f"Label {label.label_id}")]
    parts += [_text(right, SIZE - MARGIN - 18, label.facility[:48], size=14), "^PQ1", "^XZ"]
    return "\n".join(parts) + "\n"


def labels_zpl(labels: list[LabelData]) -> str:
    """Every label, one ZPL format each, ready to send to the printer."""
    return "".join(label_zpl(label) for label in labels)

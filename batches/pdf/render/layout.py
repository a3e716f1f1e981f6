"""What every section of the batch record draws with: page geometry, styles, cells, tables.

Every cell is plain text wrapped to its column, or a Paragraph where markup is needed (super- and
subscripts, missing glyphs), so long free text wraps; tables repeat their header and split rows
across pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table
from reportlab.platypus import TableStyle as RLTableStyle

from batches import formatting
from batches.pdf import barcodes, fonts
from batches.snapshot import SCAN_MATCH, SCAN_REFUSED, Snapshot
from qc.selectors import Verdict

KIND_TITLES = {
    "release_record": _("Batch release record"),
    "final_record": _("Final executed batch record"),
    "on_request": _("Batch record (issued on request)"),
}
PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
FRAME_W = PAGE_W - 2 * MARGIN
HEADER_H = 16 * mm
FOOTER_H = 12 * mm
GRID = colors.HexColor("#9aa5b1")
SHADE = colors.HexColor("#e8edf2")
PAD = 3
# A table's own font (ReportLab's default is Helvetica, a base-14 font that is never embedded): every
# table names it, even one that holds only flowables, so that the record embeds every font it uses.
EMBEDDED_FONT = ("FONT", (0, 0), (-1, -1), fonts.REGULAR, 8)
PASSED, FAILED, PENDING = "#1b6e20", "#b00020", "#a05a00"
# The colour of a QC verdict or an identity scan's outcome, by its code (batches.pdf.render.codes): never by
# its words, which are in the record's language.
VERDICT_COLOURS = {
    Verdict.PASS: PASSED,
    Verdict.OOS: FAILED,
    Verdict.PENDING: PENDING,
    SCAN_MATCH: PASSED,
    SCAN_REFUSED: FAILED,
}
# A table cell holds at most about this many lines; longer text continues in the rows below. So no
# row grows taller than a page (ReportLab stops with LayoutError on a flowable taller than its
# frame), and a long text is wrapped once per row instead of once more for every page it spans.
MAX_CELL_LINES = 30
# Lines of one table piece in a long section (see Writer.tables): about one page of the audit appendix.
TABLE_LINES = 40
_WORDS = re.compile(r"(\s+)")


class Para(Paragraph):
    """A Paragraph that breaks its lines once per width: a table measures each cell when it sizes its
    rows and again when it draws them, and ReportLab's Paragraph breaks its lines anew each time."""

    _measured_for: float | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._measured_for != availWidth:
            super().wrap(availWidth, availHeight)
            self._measured_for = availWidth
        return self.width, self.height


def wrapped(lines: Sequence[str], font: str, size: float, room: float) -> list[str]:
    """``lines`` broken at spaces into lines no wider than ``room`` points (ReportLab's simpleSplit),
    after a word wider than ``room`` is cut where it must be; an empty line stays."""
    out: list[str] = []
    for line in lines:
        words = [piece for word in line.split() for piece in _cut(word, font, size, room)]
        out += simpleSplit(" ".join(words), font, size, room) or [""]
    return out


def _cut(word: str, font: str, size: float, room: float) -> list[str]:
    """A pasted hash or a run of characters, in pieces that each fit the column."""
    pieces = []
    while (width := stringWidth(word, font, size)) > room:
        keep = max(1, math.floor(len(word) * room / width))
        while keep > 1 and stringWidth(word[:keep], font, size) > room:
            keep -= 1
        pieces.append(word[:keep])
        word = word[keep:]
    return [*pieces, word]


def styles() -> dict[str, ParagraphStyle]:
    f = fonts.REGULAR
    return {
        "title": ParagraphStyle("title", fontName=fonts.BOLD, fontSize=20, leading=24, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", fontName=f, fontSize=11, leading=14, spaceAfter=10),
        "h1": ParagraphStyle(
            "h1", fontName=fonts.BOLD, fontSize=13, leading=16, spaceBefore=10, spaceAfter=5, keepWithNext=1
        ),
        "h2": ParagraphStyle(
            "h2", fontName=fonts.BOLD, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3, keepWithNext=1
        ),
        "label": ParagraphStyle("label", fontName=fonts.BOLD, fontSize=8.5, leading=10.5, keepWithNext=1),
        "body": ParagraphStyle("body", fontName=f, fontSize=9, leading=11.5, spaceAfter=4),
        "cell": ParagraphStyle("cell", fontName=f, fontSize=8, leading=9.6),
        "head": ParagraphStyle("head", fontName=fonts.BOLD, fontSize=8, leading=9.6),
        "small": ParagraphStyle("small", fontName=f, fontSize=6.8, leading=8.2),
        "smallhead": ParagraphStyle("smallhead", fontName=fonts.BOLD, fontSize=6.8, leading=8.2),
        "mono": ParagraphStyle("mono", fontName=f, fontSize=7.5, leading=9.5),
        "caption": ParagraphStyle("caption", fontName=f, fontSize=7.5, leading=9, alignment=TA_CENTER),
        "empty": ParagraphStyle("empty", fontName=fonts.ITALIC, fontSize=9, leading=11.5, textColor=colors.grey),
    }


def is_time(value: str) -> bool:
    return len(value) >= 19 and value[:4].isdigit() and value[10:11] == "T"


class TablePieces(Flowable):
    """Consecutive tables of at most ``TABLE_LINES`` lines each, every one with the header row.

    ReportLab measures every remaining row of a table again each time it splits it at a page end, so
    one long table costs more per page the longer it is (the audit appendix of a batch with thousands
    of events). Pieces of bounded length keep the cost per page flat. The frame never takes this
    flowable whole: it splits it, which hands over what fits of the first piece and the rest in order.
    """

    def __init__(self, pieces: list[Table]) -> None:
        super().__init__()
        self.pieces = pieces

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, available_height + 1  # taller than any frame: always split into the pieces

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        first, rest = self.pieces[0], self.pieces[1:]
        _, height = first.wrap(available_width, available_height)
        if height <= available_height:
            return [first, *rest]
        head = first.split(available_width, available_height)
        return [*head, *rest] if head else []  # nothing fits here: the frame moves on and asks again


class Writer:
    """The story of one record and the helpers its sections draw with, from the snapshot alone."""

    def __init__(self, snapshot: Snapshot, forms: dict[str, barcodes.Form], digest: str) -> None:
        self.s = snapshot
        self.digest = digest
        self.forms = forms
        self.st = styles()
        self.zone = ZoneInfo(snapshot.time_zone)
        self.story: list[Flowable] = []

    def p(self, value: str, style: str = "cell") -> Paragraph:
        return Para(fonts.markup(value), self.st[style])

    def when(self, iso: str, *, utc: bool = True) -> str:
        """'2026-05-04 11:12:03 CEST (09:12:03 UTC)' from an ISO time (``utc=False``: the local part
        only); dates and '' pass through. The one format of batches.formatting."""
        if "T" not in iso:
            return iso
        if utc:
            return formatting.moment_both(iso, zone=self.zone)
        return formatting.moment(iso, seconds=True, zone=self.zone)

    def utc(self, iso: str) -> str:
        return formatting.moment_utc(iso) if "T" in iso else iso

    def cell(self, value: Any, width: float, style: str) -> Any:
        """Plain text where each line fits the column (cheap to lay out), else a wrapping Paragraph."""
        if isinstance(value, Flowable):
            return value
        value = str(value).replace("\r", "")
        st = self.st[style]
        room = width - 2 * PAD
        lines = value.split("\n")
        if all(stringWidth(line, st.fontName, st.fontSize) <= room for line in lines):
            return "\n".join(fonts.plain(line) for line in lines)  # a Table draws a str cell line by line
        if fonts.is_plain(value):
            # Wrapped here, once: a Paragraph would parse its markup and wrap again at every measure.
            return "\n".join(wrapped(lines, st.fontName, st.fontSize, room))
        return Para(fonts.markup(value), st)

    def bounded(self, value: str, width: float, style: str) -> list[str]:
        """``value`` cut at spaces into pieces of at most MAX_CELL_LINES lines of the column.

        A word longer than a whole piece (a pasted hash, a run of characters) is cut where it must be.
        """
        st = self.st[style]
        room = width - 2 * PAD
        budget = MAX_CELL_LINES * room

        def extent(token: str) -> float:
            # A line break uses up the rest of its line: count it as a full line.
            return stringWidth(token, st.fontName, st.fontSize) + token.count("\n") * room

        if extent(value) <= budget:
            return [value]
        pieces: list[str] = []
        current, used = "", 0.0
        for token in _WORDS.split(value):
            size = extent(token)
            if size > budget:
                step = max(1, math.floor(len(token) * budget / size))
                *whole, token = [token[i : i + step] for i in range(0, len(token), step)]
                pieces += [current, *whole] if current.strip() else whole
                current, used = "", 0.0
                size = extent(token)
            if used + size > budget and current.strip():
                pieces.append(current)
                current, used = "", 0.0
            current += token
            used += size
        pieces.append(current)
        return [piece.strip() for piece in pieces if piece.strip()]

    def rows(self, row: Sequence[Any], widths: Sequence[float], style: str) -> list[list[Any]]:
        """One row of cells, or several when a cell's text is too long for one (see MAX_CELL_LINES)."""
        columns = [
            [cell] if isinstance(cell, Flowable) else self.bounded(str(cell).replace("\r", ""), width, style)
            for cell, width in zip(row, widths, strict=True)
        ]
        depth = max((len(pieces) for pieces in columns), default=1)
        return [
            [
                self.cell(pieces[i] if i < len(pieces) else "", width, style)
                for pieces, width in zip(columns, widths, strict=True)
            ]
            for i in range(depth)
        ]

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float],
        *,
        small: bool = False,
        extra: Sequence[tuple[Any, ...]] = (),
    ) -> Flowable:
        """A table with its header; a long one is drawn as consecutive pieces (see TablePieces)."""
        cell, head = ("small", "smallhead") if small else ("cell", "head")
        col_widths = [w * FRAME_W for w in widths]
        data: list[list[Any]] = [[self.cell(h, w, head) for h, w in zip(header, col_widths, strict=True)]]
        lines = [line for row in rows for line in self.rows(row, col_widths, cell)]
        shade = [("BACKGROUND", (0, 0), (-1, 0), SHADE), *extra]
        pieces = [
            self._grid([*data, *lines[start : start + TABLE_LINES]], col_widths, cell, head, repeat=1, extra=shade)
            for start in range(0, max(len(lines), 1), TABLE_LINES)
        ]
        return pieces[0] if len(pieces) == 1 else TablePieces(pieces)

    def _grid(
        self, data: list[list[Any]], widths: list[float], cell: str, head: str, *, repeat: int, extra: Sequence[Any]
    ) -> Table:
        table = Table(data, colWidths=widths, repeatRows=repeat, splitInRow=1, hAlign="LEFT")
        body, bold = self.st[cell], self.st[head]
        header_font = [("FONT", (0, 0), (-1, 0), bold.fontName, bold.fontSize, bold.leading)] if repeat else []
        table.setStyle(
            RLTableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), body.fontName, body.fontSize, body.leading),
                    *header_font,
                    ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), PAD),
                    ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                    *extra,
                ]
            )
        )
        return table

    def pairs(self, rows: Sequence[tuple[str, Any]], widths: tuple[float, float] = (0.3, 0.7)) -> Table:
        col_widths = [w * FRAME_W for w in widths]
        data: list[list[Any]] = []
        for key, value in rows:
            lines = self.rows([value], col_widths[1:], "cell")
            data += [[self.cell(key if i == 0 else "", col_widths[0], "head"), *line] for i, line in enumerate(lines)]
        extra = [("BACKGROUND", (0, 0), (0, -1), SHADE), ("FONT", (0, 0), (0, -1), fonts.BOLD, 8, 9.6)]
        return self._grid(data, col_widths, "cell", "head", repeat=0, extra=extra)

    def heading(self, value: str, level: str = "h1") -> None:
        self.story.append(self.p(value, level))

    def empty(self, value: str) -> None:
        self.story.append(self.p(value, "empty"))

    def verdict(self, value: str, code: str) -> Paragraph:
        """``value`` in bold, in the colour of its ``code`` (VERDICT_COLOURS); plain for an unknown code."""
        tone = VERDICT_COLOURS.get(code)
        text = fonts.markup(value)
        return Para(f'<font color="{tone}"><b>{text}</b></font>' if tone else text, self.st["cell"])

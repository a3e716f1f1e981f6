"""Draw the batch record PDF from a snapshot with ReportLab (no database access here).

Page furniture (header with the batch barcode, footer with "Page X of Y", the batch number and the
snapshot hash) is drawn by a canvas that holds pages back until the total is known, so one pass
suffices. Barcodes are form XObjects defined once per document. Every cell is a Paragraph so long
free text wraps, and tables repeat their header and split rows across pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
)
from reportlab.platypus import TableStyle as RLTableStyle

from batches.pdf import barcodes, fonts
from batches.snapshot import Snapshot

KIND_TITLES = {
    "release_record": "Batch release record",
    "final_record": "Final executed batch record",
    "on_request": "Batch record (issued on request)",
}
PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
FRAME_W = PAGE_W - 2 * MARGIN
HEADER_H = 16 * mm
FOOTER_H = 12 * mm
GRID = colors.HexColor("#9aa5b1")
SHADE = colors.HexColor("#e8edf2")
PAD = 3
VERDICT_COLOURS = {"pass": "#1b6e20", "fail": "#b00020", "pending": "#a05a00"}


def _styles() -> dict[str, ParagraphStyle]:
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


def _is_time(value: str) -> bool:
    return len(value) >= 19 and value[:4].isdigit() and value[10:11] == "T"


class _Record:
    """The story of one record: sections in order, built from the snapshot alone."""

    def __init__(self, snapshot: Snapshot, forms: dict[str, barcodes.Form], digest: str) -> None:
        self.s = snapshot
        self.digest = digest
        self.forms = forms
        self.st = _styles()
        self.zone = ZoneInfo(snapshot.time_zone)
        self.story: list[Flowable] = []

    # --- helpers ---------------------------------------------------------------------------
    def p(self, value: str, style: str = "cell") -> Paragraph:
        return Paragraph(fonts.markup(value), self.st[style])

    def when(self, iso: str, *, local: bool = True) -> str:
        """'2026-05-04 09:12:03 UTC (11:12 CEST)' from an ISO time; dates and '' pass through."""
        if "T" not in iso:
            return iso
        moment = datetime.fromisoformat(iso)
        shown = f"{moment:%Y-%m-%d %H:%M:%S} UTC"
        if local:
            here = moment.astimezone(self.zone)
            shown += f" ({here:%Y-%m-%d %H:%M} {here.tzname()})"
        return shown

    def local(self, iso: str) -> str:
        if "T" not in iso:
            return iso
        here = datetime.fromisoformat(iso).astimezone(self.zone)
        return f"{here:%Y-%m-%d %H:%M:%S} {here.tzname()}"

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
        return Paragraph(fonts.markup(value), st)

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float],
        *,
        small: bool = False,
        extra: Sequence[tuple[Any, ...]] = (),
    ) -> Table:
        cell, head = ("small", "smallhead") if small else ("cell", "head")
        col_widths = [w * FRAME_W for w in widths]
        data: list[list[Any]] = [[self.cell(h, w, head) for h, w in zip(header, col_widths, strict=True)]]
        data += [[self.cell(c, w, cell) for c, w in zip(row, col_widths, strict=True)] for row in rows]
        return self._grid(
            data, col_widths, cell, head, repeat=1, extra=[("BACKGROUND", (0, 0), (-1, 0), SHADE), *extra]
        )

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
        data = [[self.cell(k, col_widths[0], "head"), self.cell(v, col_widths[1], "cell")] for k, v in rows]
        extra = [("BACKGROUND", (0, 0), (0, -1), SHADE), ("FONT", (0, 0), (0, -1), fonts.BOLD, 8, 9.6)]
        return self._grid(data, col_widths, "cell", "head", repeat=0, extra=extra)

    def heading(self, value: str, level: str = "h1") -> None:
        self.story.append(self.p(value, level))

    def empty(self, value: str) -> None:
        self.story.append(self.p(value, "empty"))

    def verdict(self, value: str) -> Paragraph:
        key = value.strip().lower()
        tone = next((c for k, c in VERDICT_COLOURS.items() if key.startswith(k)), None)
        if key.startswith("refused") or key in {"oos", "out of specification", "does not conform", "nonconforming"}:
            tone = VERDICT_COLOURS["fail"]
        if key in {"conforms", "within specification", "meets specification", "match"}:
            tone = VERDICT_COLOURS["pass"]
        text = fonts.markup(value)
        return Paragraph(f'<font color="{tone}"><b>{text}</b></font>' if tone else text, self.st["cell"])

    # --- sections ----------------------------------------------------------------------------
    def cover(self) -> None:
        c, s = self.s.cover, self.s
        self.story.append(self.p(KIND_TITLES.get(s.document_kind, "Batch record"), "title"))
        self.story.append(self.p(f"{c.organisation} · {c.product_name}", "subtitle"))
        din = self.p(c.din) if not c.din_check else self._din_with_check(c.din, c.din_check)
        self.story.append(
            self.pairs(
                [
                    ("Product", c.product_name),
                    ("Product code (ISBT 128)", c.product_code),
                    ("Process definition (master record)", c.process_definition),
                    ("Batch number", c.batch_number),
                    ("Batch status at issue", c.batch_status),
                    ("Patient subject code", c.subject_code),
                    ("Donation identification number (DIN)", din),
                    ("Chain of identity identifier", c.coi_id),
                    ("Registered", f"{self.when(c.registered_at)} by {c.registered_by}"),
                    ("Record taken", self.when(s.taken_at)),
                    ("Document revision", str(s.revision)),
                ]
            )
        )
        self.story.append(Spacer(1, 6 * mm))
        codes: list[Any] = [[], []]
        for key, caption in (("code_batch", c.batch_number), ("code_din", c.din), ("qr", "Batch, DIN, COI and hash")):
            if key in self.forms:
                codes[0].append(barcodes.FormFlowable(self.forms[key]))
                codes[1].append(self.p(caption, "caption"))
        barcode_table = Table(codes, hAlign="LEFT", colWidths=[FRAME_W / len(codes[0])] * len(codes[0]))
        barcode_table.setStyle(
            RLTableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "BOTTOM")])
        )
        self.story.append(barcode_table)
        self.story.append(Spacer(1, 6 * mm))
        self.heading("Integrity of this record", "h2")
        checkpoint = (
            f"sequence {s.checkpoint.sequence}, sealed {self.when(s.checkpoint.sealed_at)}, "
            f"chain SHA-256 {s.checkpoint.chain_sha256}"
            if s.checkpoint
            else "no audit checkpoint was recorded at the time of issue"
        )
        self.story.append(
            self.pairs(
                [
                    ("Snapshot SHA-256", self.p(self.digest, "mono")),
                    ("Audit checkpoint current at issue", checkpoint),
                    (
                        "Electronic seal",
                        "This file carries the organisation's PAdES seal. Any change to it after issue breaks the "
                        "seal; check it with verify_batch_record or POST /api/v1/verify/, or in a PDF reader.",
                    ),
                ]
            )
        )
        self.story.append(PageBreak())

    def _din_with_check(self, din: str, check: str) -> Table:
        table = Table(
            [[self.p(din), self.p(check, "head")]],
            colWidths=[30 * mm, 6 * mm],
            hAlign="LEFT",
        )
        table.setStyle(
            RLTableStyle(
                [
                    ("BOX", (1, 0), (1, 0), 0.9, colors.black),
                    ("ALIGN", (1, 0), (1, 0), "CENTER"),
                    ("LEFTPADDING", (0, 0), (0, 0), 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return table

    def process(self) -> None:
        self.heading("1. Process definition and batch")
        self.story.append(
            self.table(
                ["Parameter", "Value", "Unit"],
                [(r.label, self.when(r.value) if _is_time(r.value) else r.value, r.unit) for r in self.s.process],
                [0.32, 0.48, 0.2],
            )
        )

    def steps(self) -> None:
        self.heading("2. Manufacturing steps")
        if not self.s.steps:
            self.empty("No manufacturing step was recorded at the time of issue.")
        for n, step in enumerate(self.s.steps, 1):
            who = [
                ("Performed by", f"{step.performed_by} · {self.when(step.performed_at)}"),
                (
                    "Verified by",
                    f"{step.verified_by} · {self.when(step.verified_at)}" if step.verified_by else "not verified",
                ),
            ]
            if step.late_entry_reason:
                who.append(("Late entry reason", step.late_entry_reason))
            # A step's tables stay on one page when they fit; a long step still splits cleanly.
            block: list[Flowable] = [self.p(f"2.{n} {step.title}", "h2"), self.pairs(who, (0.22, 0.78))]
            values = [(v.label, self.when(v.value) if _is_time(v.value) else v.value, v.unit) for v in step.values]
            tables = (
                (["Parameter", "Value", "Unit"], values, [0.34, 0.46, 0.2]),
                (["Material", "Lot", "Expiry"], [(x.material, x.lot, x.expiry) for x in step.lots], [0.34, 0.33, 0.33]),
                (
                    ["Equipment", "Serial number", "Note"],
                    [(e.name, e.serial, e.note) for e in step.equipment],
                    [0.34, 0.33, 0.33],
                ),
            )
            for header, rows, widths in tables:
                if rows:
                    block += [Spacer(1, 2), self.table(header, rows, widths)]
            self.story.append(KeepTogether(block))
            if step.notes:
                self.story.append(self.p("Notes", "label"))
                self.story.append(self.p(step.notes, "body"))

    def qc(self) -> None:
        self.heading("3. Quality control results against specification")
        if not self.s.qc_results:
            self.empty("No QC result was recorded at the time of issue.")
            return
        rows = [
            (
                r.test + (f"\n{r.method}" if r.method else ""),
                r.specification,
                f"{r.result} {r.unit}".strip(),
                self.verdict(r.verdict),
                f"{r.analyst}\n{self.when(r.performed_at, local=False)}"
                + (f"\nreviewed: {r.verified_by}" if r.verified_by else "")
                + (f"\n{self.when(r.verified_at, local=False)}" if r.verified_at else ""),
                r.comment,
            )
            for r in self.s.qc_results
        ]
        self.story.append(
            self.table(
                ["Test / method", "Specification", "Result", "Verdict", "Analyst", "Comment"],
                rows,
                # The verdict column fits "specification" in bold on one line (no word split).
                [0.18, 0.16, 0.13, 0.12, 0.2, 0.21],
            )
        )

    def deviations(self) -> None:
        self.heading("4. Deviations, investigations and closure")
        if not self.s.deviations:
            self.empty("No deviation was recorded for this batch at the time of issue.")
        for d in self.s.deviations:
            self.heading(f"Deviation {d.number}" + (f": {d.title}" if d.title else ""), "h2")
            self.story.append(
                self.pairs(
                    [
                        ("Classification", d.classification),
                        ("Status", d.status),
                        ("Opened", f"{self.when(d.opened_at)} by {d.opened_by}" if d.opened_at else d.opened_by),
                        ("Closed", f"{self.when(d.closed_at)} by {d.closed_by}" if d.closed_at else "open"),
                    ],
                    (0.22, 0.78),
                )
            )
            # Long narratives are paragraphs, not table cells: they flow across pages freely.
            for label, value in (
                ("Description", d.description),
                ("Investigation", d.investigation),
                ("Root cause", d.root_cause),
                ("Impact assessment", d.impact),
                ("Conclusion (closure summary)", d.conclusion),
                ("CAPA", d.capa),
            ):
                if value:
                    self.story.append(self.p(label, "label"))
                    self.story.append(self.p(value, "body"))

    def release(self) -> None:
        title = self.p("5. Release and certification", "h1")
        if not self.s.release:
            self.story.append(title)
            self.empty("No release decision or certification was recorded at the time of issue.")
            return
        for n, r in enumerate(self.s.release):
            rows: list[tuple[str, Any]] = [("Decided by", f"{r.by} · {self.when(r.at)}")]
            if r.specification:
                rows.append(("Specification", r.specification))
            if r.statement:
                rows.append(("Statement", r.statement))
            if r.conditions:
                rows.append(("Conditions", r.conditions))
            if r.signature:
                signed = f"\nsigned {self.when(r.signed_at)}" if r.signed_at else ""
                rows.append(("Electronic signature", r.signature + signed))
            block = [self.p(r.decision, "h2"), self.pairs(rows, (0.22, 0.78))]
            # The section title travels with the first decision (keepWithNext does not reach into a KeepTogether).
            self.story.append(KeepTogether([title, *block] if n == 0 else block))

    def infusion(self) -> None:
        current = self.s.schema >= 2  # records issued before custody was part of the record print as they did
        self.heading("6. Chain of custody, delivery and infusion" if current else "6. Delivery and infusion")
        if current:
            self._custody()
            self.heading("6.3 Bedside identity check and infusion", "h2")
        if not self.s.infusion:
            self.empty("No infusion was recorded at the time of issue.")
        else:
            rows = [(r.item, r.value, r.by, self.when(r.at), r.comment) for r in self.s.infusion]
            self.story.append(
                self.table(["Item", "Value", "By", "When", "Comment"], rows, [0.2, 0.22, 0.17, 0.21, 0.2])
            )
        if current:
            self._after_infusion()

    def _custody(self) -> None:
        self.heading("6.1 Hand-offs", "h2")
        if not self.s.custody:
            self.empty("No hand-off was recorded at the time of issue.")
        else:
            rows = [
                (
                    c.hand_off + (f"\nsample {c.sample}" if c.sample else ""),
                    f"{c.from_location} → {c.to_location}",
                    f"{c.handed_over_by}\n{self.when(c.handed_over_at, local=False)}\n{c.temperature_out}",
                    f"{c.received_by}\n{self.when(c.received_at, local=False)}\n{c.temperature_in}"
                    if c.received_at
                    else "not yet received",
                    c.scanned + (f"\n{c.notes}" if c.notes else ""),
                )
                for c in self.s.custody
            ]
            self.story.append(
                self.table(
                    ["Hand-off", "From → to", "Handed over", "Received", "Scanned at receipt"],
                    rows,
                    [0.2, 0.22, 0.21, 0.21, 0.16],
                )
            )
        self.heading("6.2 Identity scans", "h2")
        if not self.s.identity_scans:
            self.empty("No identity scan was recorded at the time of issue.")
        else:
            scans = [
                (s.point, s.scanned, s.expected, self.verdict(s.outcome), s.by, self.when(s.at, local=False))
                for s in self.s.identity_scans
            ]
            self.story.append(
                self.table(
                    ["Scan point", "Scanned", "Expected", "Outcome", "By", "When"],
                    scans,
                    [0.17, 0.17, 0.13, 0.17, 0.17, 0.19],
                )
            )

    def _after_infusion(self) -> None:
        self.heading("6.4 Adverse events", "h2")
        if not self.s.adverse_events:
            self.empty("No adverse event was recorded at the time of issue.")
        else:
            rows = [
                (
                    a.term + (f"\n{a.notes}" if a.notes else ""),
                    a.grade + (" (serious)" if a.serious == "yes" else ""),
                    a.relatedness,
                    a.phase,
                    f"onset {self.when(a.onset_at, local=False)}"
                    + (f"\nresolved {self.when(a.resolved_at, local=False)}" if a.resolved_at else "\nnot resolved"),
                    a.reported_by,
                )
                for a in self.s.adverse_events
            ]
            self.story.append(
                self.table(
                    ["CTCAE term", "Grade", "Relatedness", "Phase", "Onset / resolution", "Reported by"],
                    rows,
                    [0.22, 0.09, 0.12, 0.17, 0.22, 0.18],
                )
            )
        self.heading("6.5 Use past expiry", "h2")
        if not self.s.expired_use:
            self.empty("No use past expiry was authorised.")
        for e in self.s.expired_use:
            self.story.append(
                self.pairs(
                    [
                        ("Deviation", e.deviation),
                        ("Authorised by", f"{e.authorized_by} · {self.when(e.authorized_at)}"),
                        ("Valid until", self.when(e.valid_until)),
                        ("Reason", e.reason),
                    ],
                    (0.22, 0.78),
                )
            )

    def signatures(self) -> None:
        self.heading("7. Electronic signatures (21 CFR 11.50)")
        if not self.s.signatures:
            self.empty("No electronic signature was recorded at the time of issue.")
            return
        rows = [
            (
                sig.printed_name + (f"\n({sig.username})" if sig.username else ""),
                sig.meaning,
                self.when(sig.signed_at, local=False),
                self.local(sig.signed_at),
                sig.record,
                sig.status,
            )
            for sig in self.s.signatures
        ]
        self.story.append(
            self.table(
                ["Printed name", "Meaning", "UTC", f"Local ({self.s.time_zone})", "Signed record", "Status"],
                rows,
                [0.19, 0.13, 0.18, 0.18, 0.18, 0.14],
            )
        )

    def transitions(self) -> None:
        self.heading("8. Batch status history")
        rows = [(f"{t.from_status} → {t.to_status}", t.actor, self.when(t.at), t.reason) for t in self.s.transitions]
        if rows:
            self.story.append(self.table(["Change", "By", "When", "Reason"], rows, [0.24, 0.19, 0.36, 0.21]))
        else:
            self.empty("No status change was recorded at the time of issue.")

    def audit(self) -> None:
        self.story.append(PageBreak())
        self.heading("Appendix A. Audit trail of the batch's records")
        self.story.append(self.p(f"{len(self.s.audit_trail)} events, oldest first; times in UTC.", "body"))
        rows = [
            (self.when(e.at, local=False).removesuffix(" UTC"), e.actor, e.record, e.action, e.changes, e.reason)
            for e in self.s.audit_trail
        ]
        if rows:
            self.story.append(
                self.table(
                    ["When (UTC)", "Actor", "Record", "Action", "Changes", "Reason"],
                    rows,
                    [0.125, 0.12, 0.17, 0.07, 0.365, 0.15],
                    small=True,
                )
            )

    def build(self) -> list[Flowable]:
        for section in (
            self.cover,
            self.process,
            self.steps,
            self.qc,
            self.deviations,
            self.release,
            self.infusion,
            self.signatures,
            self.transitions,
            self.audit,
        ):
            section()
        return self.story


def _canvas_class(forms: Sequence[barcodes.Form], footer: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    class RecordCanvas(Canvas):
        """Holds pages back until the end, then draws each footer with the page total."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []
            for form in forms:
                form.define(self)

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, 1):
                self.__dict__.update(state)
                footer(self, number, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return RecordCanvas


def _forms(s: Snapshot, digest: str) -> dict[str, barcodes.Form]:
    c = s.cover
    forms = {
        "code_batch": barcodes.code128("CodeBatch", c.batch_number, bar_height=14 * mm),
        "header_batch": barcodes.code128("HeaderBatch", c.batch_number, bar_height=7 * mm, bar_width=0.55),
        "qr": barcodes.qr(
            "QrRecord",
            f"BATCH:{c.batch_number}|DIN:{c.din}{c.din_check}|COI:{c.coi_id}|SHA256:{digest}",
            size=30 * mm,
        ),
    }
    if c.din_check:
        forms["code_din"] = barcodes.code128("CodeDin", f"={c.din}", bar_height=14 * mm)
    return forms


def render(snapshot: Snapshot) -> tuple[bytes, int]:
    """The record as PDF bytes, and its page count. The same snapshot always gives the same bytes."""
    fonts.register()
    digest = snapshot.sha256()  # hashing the whole snapshot is not free: once per record
    forms = _forms(snapshot, digest)
    c = snapshot.cover
    title = KIND_TITLES.get(snapshot.document_kind, "Batch record")
    header_code = forms["header_batch"]
    pages: list[int] = []

    def header(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        top = PAGE_H - MARGIN
        canvas.setFont(fonts.BOLD, 9)
        canvas.drawString(MARGIN, top - 9, fonts.plain(f"{title} · batch {c.batch_number}"))
        canvas.setFont(fonts.REGULAR, 7.5)
        canvas.drawString(
            MARGIN, top - 19, fonts.plain(f"{c.organisation} · subject {c.subject_code} · revision {snapshot.revision}")
        )
        canvas.translate(PAGE_W - MARGIN - header_code.width, top - header_code.height)
        canvas.doForm(header_code.name)
        canvas.restoreState()
        canvas.setStrokeColor(GRID)
        canvas.line(MARGIN, PAGE_H - MARGIN - HEADER_H + 3 * mm, PAGE_W - MARGIN, PAGE_H - MARGIN - HEADER_H + 3 * mm)

    def footer(canvas: Canvas, number: int, total: int) -> None:
        pages.append(total)
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        canvas.line(MARGIN, MARGIN + FOOTER_H - 4 * mm, PAGE_W - MARGIN, MARGIN + FOOTER_H - 4 * mm)
        canvas.setFont(fonts.REGULAR, 7.5)
        canvas.drawString(
            MARGIN, MARGIN + 2 * mm, fonts.plain(f"Batch {c.batch_number} · {title}, revision {snapshot.revision}")
        )
        canvas.drawCentredString(PAGE_W / 2, MARGIN - 2 * mm, f"Snapshot SHA-256 {digest}")
        canvas.setFont(fonts.BOLD, 8)
        canvas.drawRightString(PAGE_W - MARGIN, MARGIN + 2 * mm, f"Page {number} of {total}")
        canvas.restoreState()

    buffer = BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_H,
        bottomMargin=MARGIN + FOOTER_H,
        title=f"{title} {c.batch_number} revision {snapshot.revision}",
        author=c.organisation,
        subject=f"Snapshot SHA-256 {digest}",
        creator="CellBatch",
        invariant=1,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, FRAME_W, doc.height, id="body", leftPadding=0, rightPadding=0)
    doc.addPageTemplates([PageTemplate(id="record", frames=[frame], onPage=header)])
    doc.build(_Record(snapshot, forms, digest).build(), canvasmaker=_canvas_class(list(forms.values()), footer))
    return buffer.getvalue(), pages[-1] if pages else 0

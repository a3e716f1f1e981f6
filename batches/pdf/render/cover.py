"""The cover page and section 1 (process definition and batch)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Spacer, Table
from reportlab.platypus import TableStyle as RLTableStyle

from batches.pdf import barcodes
from batches.pdf.render.exceptions import exceptions_box
from batches.pdf.render.layout import EMBEDDED_FONT, FRAME_W, KIND_TITLES, Writer, is_time


def cover(w: Writer) -> None:
    c, s = w.s.cover, w.s
    w.story.append(w.p(str(KIND_TITLES.get(s.document_kind, "Batch record")), "title"))
    w.story.append(w.p(f"{c.organisation} · {c.product_name}", "subtitle"))
    din = w.p(c.din) if not c.din_check else _din_with_check(w, c.din, c.din_check)
    w.story.append(
        w.pairs(
            [
                (_("Product"), c.product_name),
                (_("Product code (ISBT 128)"), c.product_code),
                (_("Process definition (master record)"), c.process_definition),
                (_("Batch number"), c.batch_number),
                (_("Batch status at issue"), c.batch_status),
                (_("Patient subject code"), c.subject_code),
                (_("Donation identification number (DIN)"), din),
                (_("Chain of identity identifier"), c.coi_id),
                (
                    _("Registered"),
                    _("%(time)s by %(person)s") % {"time": w.when(c.registered_at), "person": c.registered_by},
                ),
                (_("Record taken"), w.when(s.taken_at)),
                (_("Document revision"), str(s.revision)),
                (_("Language of this record"), dict(settings.LANGUAGES).get(s.language, s.language)),
            ]
        )
    )
    w.story.append(Spacer(1, 4 * mm))
    w.story.append(exceptions_box(w))
    w.story.append(Spacer(1, 6 * mm))
    codes: list[Any] = [[], []]
    for key, caption in (("code_batch", c.batch_number), ("code_din", c.din), ("qr", _("Batch, DIN, COI and hash"))):
        if key in w.forms:
            codes[0].append(barcodes.FormFlowable(w.forms[key]))
            codes[1].append(w.p(caption, "caption"))
    barcode_table = Table(codes, hAlign="LEFT", colWidths=[FRAME_W / len(codes[0])] * len(codes[0]))
    barcode_table.setStyle(
        RLTableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "BOTTOM"), EMBEDDED_FONT])
    )
    w.story.append(barcode_table)
    w.story.append(Spacer(1, 6 * mm))
    w.heading(_("Integrity of this record"), "h2")
    checkpoint = (
        _("sequence %(sequence)s, sealed %(time)s, chain SHA-256 %(hash)s")
        % {
            "sequence": s.checkpoint.sequence,
            "time": w.when(s.checkpoint.sealed_at),
            "hash": s.checkpoint.chain_sha256,
        }
        if s.checkpoint
        else _("no audit checkpoint was recorded at the time of issue")
    )
    w.story.append(
        w.pairs(
            [
                (_("Snapshot SHA-256"), w.p(w.digest, "mono")),
                (_("Audit checkpoint current at issue"), checkpoint),
                (
                    _("Electronic seal"),
                    _(
                        "This file carries the organisation's PAdES seal. Any change to it after issue breaks the "
                        "seal; check it with verify_batch_record or POST /api/v1/verify/, or in a PDF reader."
                    ),
                ),
            ]
        )
    )
    w.story.append(PageBreak())


def _din_with_check(w: Writer, din: str, check: str) -> Table:
    table = Table(
        [[w.p(din), w.p(check, "head")]],
        colWidths=[30 * mm, 6 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        RLTableStyle(
            [
                EMBEDDED_FONT,
                ("BOX", (1, 0), (1, 0), 0.9, colors.black),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def process(w: Writer) -> None:
    w.heading(_("1. Process definition and batch"))
    w.story.append(
        w.table(
            [_("Parameter"), _("Value"), _("Unit")],
            [(r.label, w.when(r.value) if is_time(r.value) else r.value, r.unit) for r in w.s.process],
            [0.32, 0.48, 0.2],
        )
    )

"""The cover's "Exceptions and disposition" box: what a reader must know before reading on.

Read from the snapshot itself (nothing more is collected): the disposition and QP certification,
open deviations, out-of-specification and pending results, late entries and uses past expiry.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.platypus import Table
from reportlab.platypus import TableStyle as RLTableStyle

from batches.models.release import Decision
from batches.pdf import fonts
from batches.pdf.render import codes
from batches.pdf.render.layout import FRAME_W, Writer
from qc.selectors import Verdict

NONE = "none"


def _decisions(w: Writer) -> tuple[str, str]:
    release = [r for r in w.s.release if not codes.is_certification(r)]
    qp = [r for r in w.s.release if codes.is_certification(r)]
    disposition = "; ".join(
        _("%(decision)s by %(who)s, %(when)s") % {"decision": r.decision, "who": r.by, "when": w.when(r.at)}
        for r in release
    ) or _("no decision yet")
    certification = "; ".join(_certified(r.by, w.when(r.at), codes.decision(r)) for r in qp) or _("not certified")
    return disposition, certification


def _certified(who: str, when: str, decision: str) -> str:
    """Which certification (batches.models.release.CERTIFICATIONS), by whom and when: after a conditional release the QP
    certifies twice, first with results pending."""
    if decision == Decision.CERTIFIED_INITIAL:
        return _("initial certification (results pending) by %(who)s, %(when)s") % {"who": who, "when": when}
    return _("final certification by %(who)s, %(when)s") % {"who": who, "when": when}


def exceptions_box(w: Writer) -> Table:
    s = w.s
    disposition, certification = _decisions(w)
    open_deviations = [
        f"{d.number} ({d.classification}, {d.status}): {d.title}" for d in s.deviations if codes.is_open(d)
    ]
    out_of_spec = [f"{r.test}: {r.result} {r.unit}".strip() for r in s.qc_results if codes.verdict(r) == Verdict.OOS]
    pending = [r.test for r in s.qc_results if codes.verdict(r) == Verdict.PENDING]
    late = [step.title for step in s.steps if step.late_entry_reason]
    none = _("none")
    past_expiry = _("%(count)s authorisation(s), section on custody") % {"count": len(s.expired_use)}
    rows = [
        (_("Disposition"), disposition),
        (_("QP certification"), certification),
        (_("Open deviations"), "; ".join(open_deviations) or none),
        (_("Out-of-specification results"), "; ".join(out_of_spec) or none),
        (_("Pending tests"), ", ".join(pending) or none),
        (_("Late entries"), ", ".join(late) or none),
        (_("Use past expiry"), past_expiry if s.expired_use else none),
    ]
    data = [[w.p(_("Exceptions and disposition"), "head"), ""]] + [[w.p(k, "head"), w.p(v)] for k, v in rows]

    table = Table(data, colWidths=[0.3 * FRAME_W, 0.7 * FRAME_W], hAlign="LEFT")
    table.setStyle(
        RLTableStyle(
            [
                # The record's own font even for the empty cell: the table's default, Helvetica, is never embedded.
                ("FONT", (0, 0), (-1, -1), fonts.REGULAR, 8),
                ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
                ("SPAN", (0, 0), (-1, 0)),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e0e0e0")),
                ("LINEBELOW", (0, 0), (-1, -2), 0.3, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table

"""Appendix A: the audit trail of the batch's records, oldest first, local times with their zone."""

from __future__ import annotations

from django.utils.translation import gettext as _
from reportlab.platypus import PageBreak

from batches.pdf.render.layout import Writer


def audit(w: Writer) -> None:
    w.story.append(PageBreak())
    w.heading(_("Appendix A. Audit trail of the batch's records"))
    w.story.append(
        w.p(
            _("%(count)s events, oldest first; local times (%(zone)s) with the zone in force.")
            % {"count": len(w.s.audit_trail), "zone": w.s.time_zone},
            "body",
        )
    )
    rows = [(w.when(e.at, utc=False), e.actor, e.record, e.action, e.changes, e.reason) for e in w.s.audit_trail]
    if rows:
        w.story.append(
            w.table(
                [_("When"), _("Actor"), _("Record"), _("Action"), _("Changes"), _("Reason")],
                rows,
                [0.125, 0.12, 0.17, 0.07, 0.365, 0.15],
                small=True,
            )
        )

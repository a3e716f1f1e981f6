"""Sections 7 and 8: the electronic signatures (21 CFR 11.50) and the batch status history."""

from __future__ import annotations

from django.utils.translation import gettext as _

from batches.pdf.render.layout import Writer


def signatures(w: Writer) -> None:
    w.heading(_("7. Electronic signatures (21 CFR 11.50)"))
    if not w.s.signatures:
        w.empty(_("No electronic signature was recorded at the time of issue."))
        return
    rows = [
        (
            sig.printed_name + (f"\n({sig.username})" if sig.username else "") + (f"\n{sig.role}" if sig.role else ""),
            sig.meaning,
            w.when(sig.signed_at, utc=False),
            w.utc(sig.signed_at),
            sig.record,
            sig.status,
        )
        for sig in w.s.signatures
    ]
    w.story.append(
        w.table(
            [
                _("Printed name"),
                _("Meaning"),
                _("Local (%(zone)s)") % {"zone": w.s.time_zone},
                "UTC",
                _("Signed record"),
                _("Status"),
            ],
            rows,
            [0.19, 0.13, 0.18, 0.18, 0.18, 0.14],
        )
    )


def transitions(w: Writer) -> None:
    w.heading(_("8. Batch status history"))
    rows = [(f"{t.from_status} → {t.to_status}", t.actor, w.when(t.at), t.reason) for t in w.s.transitions]
    if rows:
        w.story.append(w.table([_("Change"), _("By"), _("When"), _("Reason")], rows, [0.24, 0.19, 0.36, 0.21]))
    else:
        w.empty(_("No status change was recorded at the time of issue."))

"""Section 2: the manufacturing steps, each with who did and verified it, values, lots and equipment."""

from __future__ import annotations

from django.utils.translation import gettext as _
from reportlab.platypus import Flowable, KeepTogether, Spacer

from batches.pdf.render.layout import Writer, is_time


def steps(w: Writer) -> None:
    w.heading(_("2. Manufacturing steps"))
    if not w.s.steps:
        w.empty(_("No manufacturing step was recorded at the time of issue."))
    for n, step in enumerate(w.s.steps, 1):
        # A transcribed step names who did the work; who wrote it down signed it as recorded.
        who = [
            (
                _("Performed by"),
                step.performed_by if step.recorded_by else f"{step.performed_by} · {w.when(step.performed_at)}",
            )
        ]
        if step.recorded_by:
            recorded = _("%(who)s · %(when)s, from %(source)s") % {
                "who": step.recorded_by,
                "when": w.when(step.performed_at),
                "source": step.source,
            }
            who.append((_("Recorded by"), recorded))
        if step.procedure:
            who.append((_("Procedure followed"), step.procedure))

        if step.corrected_by:
            # Records of schema 2 carry no corrector: they print as they did.
            who.append(
                (
                    _("Corrected by"),
                    _("%(person)s at %(time)s") % {"person": step.corrected_by, "time": w.when(step.corrected_at)},
                )
            )
        who += [
            (
                _("Verified by"),
                f"{step.verified_by} · {w.when(step.verified_at)}" if step.verified_by else _("not verified"),
            ),
        ]
        if step.late_entry_reason:
            who.append((_("Late entry reason"), step.late_entry_reason))
        # A step's tables stay on one page when they fit; a long step still splits cleanly.
        block: list[Flowable] = [w.p(f"2.{n} {step.title}", "h2"), w.pairs(who, (0.22, 0.78))]
        values = [(v.label, w.when(v.value) if is_time(v.value) else v.value, v.unit) for v in step.values]
        tables = (
            ([_("Parameter"), _("Value"), _("Unit")], values, [0.34, 0.46, 0.2]),
            (
                [_("Material"), _("Lot"), _("Expiry")],
                [(x.material, x.lot, x.expiry) for x in step.lots],
                [0.34, 0.33, 0.33],
            ),
            (
                [_("Equipment"), _("Serial number"), _("Note")],
                [(e.name, e.serial, e.note) for e in step.equipment],
                [0.34, 0.33, 0.33],
            ),
        )
        for header, rows, widths in tables:
            if rows:
                block += [Spacer(1, 2), w.table(header, rows, widths)]
        w.story.append(KeepTogether(block))
        if step.notes:
            w.story.append(w.p(_("Notes"), "label"))
            w.story.append(w.p(step.notes, "body"))

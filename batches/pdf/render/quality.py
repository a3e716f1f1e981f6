"""Sections 3 to 5: QC results against specification, deviations, release and certification."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.platypus import KeepTogether

from batches.pdf.render import codes
from batches.pdf.render.layout import Writer


def qc(w: Writer) -> None:
    w.heading(_("3. Quality control results against specification"))
    if not w.s.qc_results:
        w.empty(_("No QC result was recorded at the time of issue."))
        return
    rows = [
        (
            r.test + (f"\n{r.method}" if r.method else ""),
            r.specification,
            f"{r.result} {r.unit}".strip(),
            w.verdict(r.verdict, codes.verdict(r)),
            f"{r.analyst}\n{w.when(r.performed_at, utc=False)}"
            + ("\n" + _("reviewed: %(person)s") % {"person": r.verified_by} if r.verified_by else "")
            + (f"\n{w.when(r.verified_at, utc=False)}" if r.verified_at else ""),
            r.comment,
        )
        for r in w.s.qc_results
    ]
    w.story.append(
        w.table(
            [_("Test / method"), _("Specification"), _("Result"), _("Verdict"), _("Analyst"), _("Comment")],
            rows,
            # The verdict column fits "specification" in bold on one line (no word split).
            [0.18, 0.16, 0.13, 0.12, 0.2, 0.21],
        )
    )


def deviations(w: Writer) -> None:
    w.heading(_("4. Deviations, investigations and closure"))
    if not w.s.deviations:
        w.empty(_("No deviation was recorded for this batch at the time of issue."))
    for d in w.s.deviations:
        w.heading(_("Deviation %(number)s") % {"number": d.number} + (f": {d.title}" if d.title else ""), "h2")
        w.story.append(
            w.pairs(
                [
                    (_("Classification"), d.classification),
                    (_("Status"), d.status),
                    (
                        _("Opened"),
                        _("%(time)s by %(person)s") % {"time": w.when(d.opened_at), "person": d.opened_by}
                        if d.opened_at
                        else d.opened_by,
                    ),
                    (
                        pgettext("deviation", "Closed"),
                        _("%(time)s by %(person)s") % {"time": w.when(d.closed_at), "person": d.closed_by}
                        if d.closed_at
                        else _("open"),
                    ),
                ],
                (0.22, 0.78),
            )
        )
        # Long narratives are paragraphs, not table cells: they flow across pages freely.
        for label, value in (
            (_("Description"), d.description),
            (_("Investigation"), d.investigation),
            (_("Root cause"), d.root_cause),
            (_("Impact assessment"), d.impact),
            (_("Conclusion (closure summary)"), d.conclusion),
            ("CAPA", d.capa),
        ):
            if value:
                w.story.append(w.p(label, "label"))
                w.story.append(w.p(value, "body"))
    _exceptions(w)


def _exceptions(w: Writer) -> None:
    """Values accepted outside their alert range and preliminary results, each with who accepted it and why."""
    w.heading(_("Exceptions accepted with a reason"), "h2")
    if not w.s.exceptions:
        w.empty(_("No value was accepted outside its alert range."))
        return
    rows = [
        (e.source, f"{e.parameter}: {e.value}", e.limit, e.reason, f"{e.by}\n{w.when(e.at)}") for e in w.s.exceptions
    ]
    headers = [_("Where"), _("Value"), _("Expected"), _("Reason"), _("Accepted by")]
    w.story.append(w.table(headers, rows, [0.17, 0.2, 0.2, 0.25, 0.18]))


def release(w: Writer) -> None:
    title = w.p(_("5. Release and certification"), "h1")
    if not w.s.release:
        w.story.append(title)
        w.empty(_("No release decision or certification was recorded at the time of issue."))
        return
    for n, r in enumerate(w.s.release):
        rows: list[tuple[str, Any]] = [(_("Decided by"), f"{r.by} · {w.when(r.at)}")]
        if r.specification:
            rows.append((_("Specification"), r.specification))
        if r.statement:
            rows.append((_("Statement"), r.statement))
        if r.conditions:
            rows.append((_("Conditions"), r.conditions))
        if r.signature:
            signed = "\n" + _("signed %(time)s") % {"time": w.when(r.signed_at)} if r.signed_at else ""
            rows.append((_("Electronic signature"), r.signature + signed))
        block = [w.p(r.decision, "h2"), w.pairs(rows, (0.22, 0.78))]
        # The section title travels with the first decision (keepWithNext does not reach into a KeepTogether).
        w.story.append(KeepTogether([title, *block] if n == 0 else block))

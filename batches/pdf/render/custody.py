"""Section 6: chain of custody, identity scans, bedside check and infusion, adverse events, use past expiry."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from batches.pdf import fonts
from batches.pdf.render import codes
from batches.pdf.render.layout import FRAME_W, Writer
from batches.snapshot import TemperatureLogEntry


def temperature_plot(log: TemperatureLogEntry, *, width: float, height: float = 110) -> Drawing:
    """The logger's readings (°C against minutes from the first), with the transport range as dashed lines."""
    points = [(datetime.fromisoformat(r.split(" ")[0]), float(r.split(" ")[1])) for r in log.readings]
    start = points[0][0] if points else None
    series = [((at - start).total_seconds() / 60, value) for at, value in points] if start else [(0.0, 0.0)]
    end = max(series[-1][0], 1.0)
    low, high = float(log.low or 0), float(log.high or 0)
    drawing = Drawing(width, height)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 36, 18, width - 48, height - 30
    plot.data = [series, [(0, low), (end, low)], [(0, high), (end, high)]]
    plot.lines[0].strokeColor = colors.black
    for index in (1, 2):
        plot.lines[index].strokeColor = colors.grey
        plot.lines[index].strokeDashArray = [3, 2]
    values = [value for _, value in series] + [low, high]
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = min(values) - 1, max(values) + 1
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, end
    plot.xValueAxis.labels.fontSize = plot.yValueAxis.labels.fontSize = 6
    # The record's own (embedded) font: a chart's default, Helvetica, is never embedded.
    plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = fonts.REGULAR
    drawing.add(plot)
    drawing.add(String(0, height - 8, "°C", fontSize=6, fontName=fonts.REGULAR))
    drawing.add(String(width - 110, 2, _("minutes from the first reading"), fontSize=6, fontName=fonts.REGULAR))
    return drawing


def infusion(w: Writer) -> None:
    current = w.s.schema >= 2  # records issued before custody was part of the record print as they did
    w.heading(_("6. Chain of custody, delivery and infusion") if current else _("6. Delivery and infusion"))
    if current:
        _custody(w)
        w.heading(_("6.3 Bedside identity check and infusion"), "h2")
    if not w.s.infusion:
        w.empty(_("No infusion was recorded at the time of issue."))
    else:
        rows = [(r.item, r.value, r.by, w.when(r.at), r.comment) for r in w.s.infusion]
        w.story.append(
            w.table([_("Item"), _("Value"), _("By"), _("When"), _("Comment")], rows, [0.2, 0.22, 0.17, 0.21, 0.2])
        )
    if current:
        _after_infusion(w)


def _custody(w: Writer) -> None:
    w.heading(_("6.1 Hand-offs"), "h2")
    if not w.s.custody:
        w.empty(_("No hand-off was recorded at the time of issue."))
    else:
        rows = [
            (
                c.hand_off + ("\n" + _("sample %(sample)s") % {"sample": c.sample} if c.sample else ""),
                f"{c.from_location} → {c.to_location}",
                f"{c.handed_over_by}\n{w.when(c.handed_over_at, utc=False)}\n{c.temperature_out}",
                f"{c.received_by}\n{w.when(c.received_at, utc=False)}\n{c.temperature_in}"
                if c.received_at
                else _("not yet received"),
                c.scanned + (f"\n{c.notes}" if c.notes else ""),
            )
            for c in w.s.custody
        ]
        w.story.append(
            w.table(
                [_("Hand-off"), _("From → to"), _("Handed over"), _("Received"), _("Scanned at receipt")],
                rows,
                [0.2, 0.22, 0.21, 0.21, 0.16],
            )
        )
    for log in w.s.temperature_logs:
        line = _("Transport temperatures, %(hand_off)s: logger file %(file)s (%(verdict)s)")
        w.story.append(w.p(line % {"hand_off": log.hand_off, "file": log.file_name, "verdict": log.verdict}))

        w.story.append(temperature_plot(log, width=FRAME_W))
    w.heading(_("6.2 Identity scans"), "h2")
    if not w.s.identity_scans:
        w.empty(_("No identity scan was recorded at the time of issue."))
    else:
        scans = [
            (s.point, s.scanned, s.expected, w.verdict(s.outcome, codes.scan_outcome(s)), s.by, w.when(s.at, utc=False))
            for s in w.s.identity_scans
        ]
        w.story.append(
            w.table(
                [_("Scan point"), _("Scanned"), _("Expected"), _("Outcome"), _("By"), _("When")],
                scans,
                [0.17, 0.17, 0.13, 0.17, 0.17, 0.19],
            )
        )


def _after_infusion(w: Writer) -> None:
    w.heading(_("6.4 Adverse events"), "h2")
    if not w.s.adverse_events:
        w.empty(_("No adverse event was recorded at the time of issue."))
    else:
        rows = [
            (
                a.term + (f"\n{a.notes}" if a.notes else ""),
                a.grade + (_(" (serious)") if a.serious == "yes" else ""),
                a.relatedness,
                a.phase,
                _("onset %(time)s") % {"time": w.when(a.onset_at, utc=False)}
                + "\n"
                + (
                    _("resolved %(time)s") % {"time": w.when(a.resolved_at, utc=False)}
                    if a.resolved_at
                    else _("not resolved")
                ),
                a.reported_by,
            )
            for a in w.s.adverse_events
        ]
        w.story.append(
            w.table(
                [_("CTCAE term"), _("Grade"), _("Relatedness"), _("Phase"), "Onset / resolution", _("Reported by")],
                rows,
                [0.22, 0.09, 0.12, 0.17, 0.22, 0.18],
            )
        )
    w.heading(_("6.5 Use past expiry"), "h2")
    if not w.s.expired_use:
        w.empty(_("No use past expiry was authorised."))
    for e in w.s.expired_use:
        w.story.append(
            w.pairs(
                [
                    (_("Deviation"), e.deviation),
                    (_("Authorised by"), f"{e.authorized_by} · {w.when(e.authorized_at)}"),
                    (_("Valid until"), w.when(e.valid_until)),
                    (_("Reason"), e.reason),
                ],
                (0.22, 0.78),
            )
        )

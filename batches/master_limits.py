"""The limits a process definition carries, as data: ranges of values, the order of events, required hand-overs.

Pure Python, no database. A process definition stores one JSON document (``ProcessDefinition.limits``),
approved with the rest of the version by two people; :func:`parse` validates it and returns
:class:`MasterLimits`, the one reader the services, forms, API serializers and the record use.

- ``parameters``: for each numeric parameter (``"<step>.<field>"``), a *hard* range (a value outside is
  refused, with a message naming the limit) and an optional *alert* range (a value inside the hard
  range but outside the alert range is accepted only with a reason, which becomes an exception of the
  record), with the unit.
- ``order``: "event ``after`` may not precede event ``before``", with a minimum (and optional maximum)
  interval in minutes. Each dependency is stated once here; the services check the time they record
  against every rule that names it.
- ``qc_minimum_minutes``: the shortest time from sampling to a result for each QC test (a 14-day
  culture cannot be read two minutes after sampling).
- ``required_hand_offs``: a custody hand-over that must be received before the batch enters a state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext, gettext_noop, ngettext

from batches import formatting

# Events whose times the order rules compare; the services resolve each to a time of the batch.
# In English here (the services' messages); gettext(EVENTS[event]) gives the active language's.
EVENTS: dict[str, str] = {
    "gcsf_last_dose": gettext_noop("the last G-CSF dose"),
    "apheresis_started": gettext_noop("the start of the apheresis"),
    "apheresis_ended": gettext_noop("the end of the apheresis"),
    "selection_started": gettext_noop("the start of the CD133+ selection"),
    "selection_ended": gettext_noop("the end of the CD133+ selection"),
    "apheresis_product_sampled": gettext_noop("the sampling of the apheresis product"),
    "final_product_sampled": gettext_noop("the sampling of the final product"),
    "qa_released": gettext_noop("the QA release"),
    "qp_certified": gettext_noop("the QP certification"),
    "dispatched": gettext_noop("the dispatch to radiology"),
    "bedside_confirmed": gettext_noop("the bedside identity check"),
    "infusion_started": gettext_noop("the start of the infusion"),
    "infusion_ended": gettext_noop("the end of the infusion"),
    "closed": gettext_noop("the closure of the batch record"),
}

QC_TESTS = ("cd133_purity", "viability", "gram_stain", "endotoxin", "mycoplasma", "sterility")
# Hand-offs and the batch states a process definition may make wait for them (batches.models.custody.HandOff).
HAND_OFFS = ("collection_to_lab", "lab_to_qc")
GATED_STATES = ("processing", "quarantine")


class LimitsError(ValueError):
    """The limits document is malformed; the message names the entry."""


@dataclass(frozen=True)
class Range:
    low: Decimal
    high: Decimal

    def __contains__(self, value: object) -> bool:
        return isinstance(value, Decimal | int) and self.low <= value <= self.high

    def describe(self, unit: str) -> str:
        return f"{_plain(self.low)}–{_plain(self.high)} {unit}".strip()


@dataclass(frozen=True)
class ParameterLimit:
    key: str
    label: str
    unit: str
    hard: Range
    alert: Range | None = None

    def help_text(self) -> str:
        """The range a form field accepts, in the active language."""
        hard = self.hard.describe(self.unit)
        if self.alert is None:
            return gettext("Allowed %(hard)s.") % {"hard": hard}
        return gettext("Allowed %(hard)s; outside %(alert)s only with a reason (alert range).") % {
            "hard": hard,
            "alert": self.alert.describe(self.unit),
        }


@dataclass(frozen=True)
class OrderRule:
    before: str
    after: str
    min_minutes: int = 0
    max_minutes: int | None = None
    label: str = ""


@dataclass(frozen=True)
class MasterLimits:
    parameters: dict[str, ParameterLimit]
    order: tuple[OrderRule, ...]
    qc_minimum_minutes: dict[str, int]
    required_hand_offs: dict[str, str]

    def parameter(self, key: str) -> ParameterLimit | None:
        return self.parameters.get(key)

    def rules_for(self, event: str) -> list[OrderRule]:
        return [r for r in self.order if event in (r.before, r.after)]

    def rows(self, names: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
        """(what, limit, unit) of every limit, for the batch record's master-record section, in the active
        language. ``names`` gives the readable name of the QC tests, hand-offs and batch states the limits
        name by code (a caller above this module knows them); a code without one is printed as it is.

        Parameter labels, units and order-rule labels are the approved definition's data: printed as written.
        """
        names = names or {}
        rows = []
        for p in self.parameters.values():
            hard = f"{_shown(p.hard.low)}–{_shown(p.hard.high)}"
            limit = (
                gettext("%(hard)s; alert outside %(alert)s")
                % {"hard": hard, "alert": f"{_shown(p.alert.low)}–{_shown(p.alert.high)}"}
                if p.alert
                else hard
            )
            rows.append((gettext("Limit: %(parameter)s") % {"parameter": p.label}, limit, p.unit))
        for r in self.order:
            rows.append(
                (
                    gettext("Order: %(after)s after %(before)s")
                    % {"after": gettext(EVENTS[r.after]), "before": gettext(EVENTS[r.before])},
                    _interval(r),
                    r.label,
                )
            )
        rows += [
            (
                gettext("QC method minimum: %(test)s") % {"test": names.get(t, t)},
                duration_text(m, translated=True),
                gettext("after sampling"),
            )
            for t, m in self.qc_minimum_minutes.items()
        ]
        rows += [
            (
                gettext("Required hand-over: %(hand_off)s") % {"hand_off": names.get(h, h)},
                gettext("received before %(state)s") % {"state": names.get(s, s)},
                "",
            )
            for h, s in self.required_hand_offs.items()
        ]
        return rows


def _interval(rule: OrderRule) -> str:
    """How long after its ``before`` event the ``after`` event of an order rule may be, in the active language."""
    low = duration_text(rule.min_minutes, translated=True)
    if rule.max_minutes is None:
        return gettext("at least %(min)s") % {"min": low} if rule.min_minutes else gettext("not before")
    high = duration_text(rule.max_minutes, translated=True)
    if rule.min_minutes:
        return gettext("at least %(min)s, at most %(max)s") % {"min": low, "max": high}
    return gettext("not before, at most %(max)s") % {"max": high}


def duration_text(minutes: int, *, translated: bool = False) -> str:
    """14 day(s), 2 h, 45 min: in English (the services' messages and the findings they store), or
    ``translated`` into the active language (the record, the pages)."""
    if minutes and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        if translated:
            return ngettext("%(days)s day(s)", "%(days)s day(s)", days) % {"days": days}
        return f"{days} day(s)"
    if minutes and minutes % 60 == 0:
        return (gettext("%(hours)s h") if translated else "%(hours)s h") % {"hours": minutes // 60}
    return (gettext("%(minutes)s min") if translated else "%(minutes)s min") % {"minutes": minutes}


def _plain(number: Decimal) -> str:
    """``2``, ``0.5``: no trailing zeros (the services' messages and the findings they store, in English)."""
    return f"{number.normalize():f}" if number != number.to_integral_value() else f"{number.to_integral_value():f}"


def _shown(number: Decimal) -> str:
    """``0,5`` in Spanish, ``500 000 000 000``: as _plain, with the reader's decimal mark and digit groups."""
    return formatting.number(Decimal(_plain(number)))


def _p(label: str, unit: str, hard: tuple[str, str], alert: tuple[str, str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"label": label, "unit": unit, "hard": list(hard)}
    if alert is not None:
        entry["alert"] = list(alert)
    return entry


def default_limits() -> dict[str, Any]:
    """The limits a new process definition starts from (docs/domain.md §Limits of the master record)."""
    return {
        "parameters": {
            "apheresis.blood_volumes_processed": _p("Blood volumes processed", "blood volumes", ("0", "6"), ("2", "4")),
            "apheresis.acd_a_ml": _p("ACD-A", "mL", ("0", "2000"), ("200", "1500")),
            "apheresis.product_volume_ml": _p("Product volume", "mL", ("1", "500"), ("100", "400")),
            "apheresis.total_nucleated_cells": _p("Total nucleated cells", "cells", ("0", "500000000000")),
            "apheresis.cd133_cells_before_selection": _p("CD133+ cells before selection", "cells", ("0", "5000000000")),
            "selection.final_volume_ml": _p("Final formulation volume (bag)", "mL", ("1", "20"), ("5", "15")),
            "selection.recovery_pct": _p("Recovery", "%", ("0", "100"), ("40", "100")),
            "qc.cd133_purity": _p("CD133+ purity", "%", ("0", "100")),
            "qc.viability": _p("Viability", "%", ("0", "100")),
            "transport.temperature_c": _p("Transport temperature (final product)", "°C", ("2", "25"), ("2", "8")),
            "handover.temperature_c": _p("Hand-over temperature (in the hospital)", "°C", ("2", "30")),
            "storage.temperature_c": _p("Storage temperature", "°C", ("2", "8")),
        },
        "order": [
            {"before": "gcsf_last_dose", "after": "apheresis_started", "min_minutes": 0, "max_minutes": 36 * 60},
            {"before": "apheresis_ended", "after": "selection_started"},
            {"before": "selection_started", "after": "selection_ended", "min_minutes": 60, "label": "selection run"},
            {"before": "apheresis_started", "after": "apheresis_product_sampled"},
            {"before": "selection_ended", "after": "final_product_sampled"},
            {"before": "qa_released", "after": "infusion_started"},
            {"before": "qp_certified", "after": "infusion_started"},
            {"before": "bedside_confirmed", "after": "infusion_started"},
            {
                "before": "infusion_ended",
                "after": "closed",
                "min_minutes": 120,
                "label": "post-infusion observation",
            },
        ],
        "qc_minimum_minutes": {
            "cd133_purity": 30,
            "viability": 20,
            "gram_stain": 15,
            "endotoxin": 15,
            "mycoplasma": 90,
            "sterility": 14 * 24 * 60,
        },
        "required_hand_offs": {},
    }


def _decimal(value: object, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise LimitsError(f"{where}: {value!r} is not a number.") from None
    if not number.is_finite():
        raise LimitsError(f"{where}: {value!r} is not a finite number.")
    return number


def _range(value: object, where: str) -> Range:
    if not isinstance(value, list) or len(value) != 2:
        raise LimitsError(f"{where}: a range is [low, high].")
    low, high = _decimal(value[0], where), _decimal(value[1], where)
    if low > high:
        raise LimitsError(f"{where}: the low end {low} is above the high end {high}.")
    return Range(low, high)


def _minutes(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LimitsError(f"{where}: a whole, non-negative number of minutes is needed.")
    return value


def _parameters(data: object) -> dict[str, ParameterLimit]:
    if not isinstance(data, dict):
        raise LimitsError("parameters: an object of parameter → limit is needed.")
    parsed = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or set(entry) - {"label", "unit", "hard", "alert"}:
            raise LimitsError(f"parameters.{key}: label, unit, hard and (optionally) alert are allowed.")
        hard = _range(entry.get("hard"), f"parameters.{key}.hard")
        alert = _range(entry["alert"], f"parameters.{key}.alert") if "alert" in entry else None
        if alert is not None and not (hard.low <= alert.low and alert.high <= hard.high):
            raise LimitsError(f"parameters.{key}: the alert range must lie within the hard range.")
        parsed[key] = ParameterLimit(
            key=key, label=str(entry.get("label") or key), unit=str(entry.get("unit", "")), hard=hard, alert=alert
        )
    return parsed


def _order(data: object) -> tuple[OrderRule, ...]:
    if not isinstance(data, list):
        raise LimitsError("order: a list of rules is needed.")
    rules = []
    for i, entry in enumerate(data):
        where = f"order[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"before", "after", "min_minutes", "max_minutes", "label"}:
            raise LimitsError(f"{where}: before, after, min_minutes, max_minutes and label are allowed.")
        for end in ("before", "after"):
            if entry.get(end) not in EVENTS:
                raise LimitsError(f"{where}.{end}: {entry.get(end)!r} is not one of {', '.join(EVENTS)}.")
        low = _minutes(entry.get("min_minutes", 0), f"{where}.min_minutes")
        high = entry.get("max_minutes")
        if high is not None and _minutes(high, f"{where}.max_minutes") < low:
            raise LimitsError(f"{where}: max_minutes is below min_minutes.")
        rules.append(OrderRule(entry["before"], entry["after"], low, high, str(entry.get("label", ""))))
    return tuple(rules)


def parse(data: object) -> MasterLimits:
    """Validate a limits document; LimitsError names the first faulty entry."""
    if not isinstance(data, dict) or set(data) - {"parameters", "order", "qc_minimum_minutes", "required_hand_offs"}:
        raise LimitsError("The limits are an object of parameters, order, qc_minimum_minutes, required_hand_offs.")
    qc = data.get("qc_minimum_minutes", {})
    if not isinstance(qc, dict) or set(qc) - set(QC_TESTS):
        raise LimitsError(f"qc_minimum_minutes: tests are {', '.join(QC_TESTS)}.")
    hand_offs = data.get("required_hand_offs", {})
    if (
        not isinstance(hand_offs, dict)
        or set(hand_offs) - set(HAND_OFFS)
        or set(hand_offs.values()) - set(GATED_STATES)
    ):
        raise LimitsError(f"required_hand_offs: hand-off ({', '.join(HAND_OFFS)}) → state ({', '.join(GATED_STATES)}).")
    return MasterLimits(
        parameters=_parameters(data.get("parameters", {})),
        order=_order(data.get("order", [])),
        qc_minimum_minutes={t: _minutes(m, f"qc_minimum_minutes.{t}") for t, m in qc.items()},
        required_hand_offs=dict(hand_offs),
    )


@dataclass(frozen=True)
class AlertFinding:
    """A value inside its hard range but outside its alert range: it needs a reason."""

    key: str
    subject: str
    value: str
    limit: str


def check_value(
    limit: ParameterLimit, value: Decimal | int | None, *, field: str, owner: str
) -> tuple[dict[str, str], AlertFinding | None]:
    """(errors, alert): a value outside the hard range is an error naming the limit and ``owner``."""
    if value is None:
        return {}, None
    shown = f"{_plain(Decimal(value))} {limit.unit}".strip()
    if value not in limit.hard:
        return {
            field: f"{limit.label} {shown} is outside the limit {limit.hard.describe(limit.unit)} of {owner}."
        }, None
    if limit.alert is not None and value not in limit.alert:
        return {}, AlertFinding(
            key=limit.key, subject=limit.label, value=shown, limit=f"alert range {limit.alert.describe(limit.unit)}"
        )
    return {}, None

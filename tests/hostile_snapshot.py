"""A record whose free text is as hostile as a user can make it: long, unbroken, full of markup."""

from __future__ import annotations

import dataclasses

from batches.snapshot import ExpiredUseEntry, Snapshot
from tests.sample_snapshot import sample_snapshot

MARKUP = '<b>bold?</b> & <font size="90">big</font> <br/> <para> ]]> &amp; &#0; <img src="x"/> "quoted" '
WORD = "Ω" + "x" * 598 + "Ω"  # one 600-character word: no space, no hyphen to break at
SENTENCE = "The operator wrote this without a pause for breath, at length. "


def long_text(tag: str, size: int = 5000) -> str:
    """``size`` characters: a tag to find it by, markup characters, the unbroken word, then prose."""
    head = f"[{tag}] {MARKUP}{WORD} "
    body = (SENTENCE * (size // len(SENTENCE) + 1))[: size - len(head) - len(f" [/{tag}]")]
    return f"{head}{body} [/{tag}]"


# Free-text fields of each section: what a user types, as opposed to codes, names and times.
FREE_TEXT = {
    "steps": ("late_entry_reason", "notes"),
    "qc_results": ("comment",),
    "deviations": ("title", "description", "investigation", "root_cause", "impact", "conclusion", "capa"),
    "release": ("statement", "conditions"),
    "infusion": ("comment",),
    "custody": ("notes",),
    "adverse_events": ("notes",),
    "expired_use": ("reason",),
    "transitions": ("reason",),
    "audit_trail": ("changes", "reason"),
}


def hostile_snapshot(size: int = 5000) -> Snapshot:
    """The sample record, each free-text field ``size`` characters long (one row per section keeps it short)."""
    base = dataclasses.replace(
        sample_snapshot(audit_events=2, deviations=1, qc_results=2),
        expired_use=[
            ExpiredUseEntry(
                "DEV-2026-099", "", "2026-03-09T10:00:00+00:00", "Dr. Inés Peña (QA)", "2026-03-08T10:00:00+00:00"
            )
        ],
    )
    changes: dict[str, object] = {}
    for section, names in FREE_TEXT.items():
        rows = getattr(base, section)
        changes[section] = [
            dataclasses.replace(row, **{name: long_text(f"{section}.{name}.{n}", size) for name in names})
            for n, row in enumerate(rows)
        ]
    return dataclasses.replace(base, **changes)

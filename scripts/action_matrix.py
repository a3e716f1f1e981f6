"""Print the role × action × state matrix of the declared state-change actions (validation evidence).

Run with the project's virtualenv: ``.venv/bin/python scripts/action_matrix.py > docs/action-matrix.md``.
The matrix is printed from the declarations the services' guards read (batches.services.actions), so it
states what the system enforces; tests/test_action_matrix.py fails when docs/action-matrix.md is stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def matrix() -> str:
    from batches.models.training import ProcedureActivity
    from batches.roles import BARRED_FROM, Domain, Role
    from batches.services.actions import declared_actions
    from batches.states import BatchStatus

    actions = declared_actions()
    lines = [
        "# State-change actions: who may take each, and from which states",
        "",
        "Printed by `scripts/action_matrix.py` from the declarations in `batches/services/actions.py` and the",
        "services beside them; the services' guards, the admin pages and the API read the same declarations,",
        "and a test fails when this page no longer matches them. Do not edit it by hand.",
        "",
        "## Actions",
        "",
        "Training on: the activity whose procedure (named by the batch's process definition) the person must be",
        "currently trained on; the guard refuses the action otherwise, naming the SOP and version.",
        "",
        "| action | label | roles | from states | reason | password | training on |",
        "|---|---|---|---|---|---|---|",
    ]
    for action in actions:
        roles = ", ".join(role.label for role in action.roles)
        states = ", ".join(BatchStatus(s).label.lower() for s in action.source)
        reason = "required" if action.needs_reason else "—"
        password = "re-entered" if action.needs_password else "—"
        trained = ProcedureActivity(action.procedure).label if action.procedure else "—"
        lines.append(f"| `{action.slug}` | {action.label} | {roles} | {states} | {reason} | {password} | {trained} |")
    barred = ", ".join(role.label for role in BARRED_FROM[Domain.BATCH_DATA])
    lines += [
        "",
        "## Role × action",
        "",
        f"✓: the role may take the action. A user also holding a role barred from batch data ({barred}) may",
        "take none of them, whatever else they hold.",
        "",
        "| role | " + " | ".join(f"`{a.slug}`" for a in actions) + " |",
        "|---|" + "---|" * len(actions),
    ]
    for role in Role:
        marks = ["✓" if role in a.roles and role not in BARRED_FROM[Domain.BATCH_DATA] else "" for a in actions]
        lines.append(f"| {role.label} | " + " | ".join(marks) + " |")
    lines += [
        "",
        "## Action × state",
        "",
        "✓: the action starts from this state; in every other state its service refuses it (409 in the API).",
        "",
        "| action | " + " | ".join(BatchStatus(s).label.lower() for s in BatchStatus) + " |",
        "|---|" + "---|" * len(BatchStatus),
    ]
    for action in actions:
        marks = ["✓" if action.allowed_from(s) else "" for s in BatchStatus]
        lines.append(f"| `{action.slug}` | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    sys.stdout.write(matrix())
    return 0


if __name__ == "__main__":
    sys.exit(main())

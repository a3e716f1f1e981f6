"""Every Celery task runs inside ``audit_context("system:<task name>")``.

Connected to Celery's task_prerun/task_postrun signals in BatchesConfig.ready(), which every worker
runs at start-up, so no task can write GMP data unattributed, whoever wrote the task.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from batches.audit import audit_context

_open: dict[str, ExitStack] = {}


def open_task_audit_context(task_id: str, task: Any, **_: Any) -> None:
    stack = ExitStack()
    stack.enter_context(audit_context(f"system:{task.name}"))
    _open[task_id] = stack


def close_task_audit_context(task_id: str, **_: Any) -> None:
    stack = _open.pop(task_id, None)
    if stack is not None:
        stack.close()

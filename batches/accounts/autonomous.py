"""Autonomous writes: a record that must be committed whatever happens to the caller's transaction.

A refused signature happens inside a service's ``transaction.atomic`` block, which is rolled back
when the refusal is raised. 21 CFR 11.300(d) still wants the attempt on record, so the record is
written on a second database connection, in its own transaction, committed before the refusal is
raised. Django's connections are per thread, so a short-lived thread gives exactly that.

Only tables the business transaction never writes (the access log and django-axes's attempt
table) are written this way, so the second connection cannot wait on a lock the first one holds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")

log = logging.getLogger(__name__)

# A write that has not finished by then is abandoned by the caller (the thread still completes).
TIMEOUT_SECONDS = 15.0


class AutonomousWriteFailed(RuntimeError):
    """The independent write could not be completed; the caller must not pretend it was recorded."""


def run_autonomously(func: Callable[[], T]) -> T:
    """Run ``func`` on a fresh database connection in autocommit mode and return its result."""
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # re-raised in the calling thread
            failure.append(exc)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=target, name="cellbatch-autonomous-write", daemon=True)
    thread.start()
    thread.join(TIMEOUT_SECONDS)
    if thread.is_alive():
        log.error("autonomous write still running after %s s", TIMEOUT_SECONDS)
        raise AutonomousWriteFailed(f"the independent audit write did not finish within {TIMEOUT_SECONDS:.0f} s")
    if failure:
        raise AutonomousWriteFailed("the independent audit write failed") from failure[0]
    return outcome["value"]

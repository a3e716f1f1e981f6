"""Child processes that end with the process that started them (the demo launcher, scripts/run_demo.py,
does the same for its own children before they start, with the standard library only: it runs as a
script outside the project's import path)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent ``parent_pid`` ends, even by
    SIGKILL (Linux; a no-op elsewhere). If that parent has already ended, send it now."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent_pid:  # orphaned before the request took effect
        os.kill(os.getpid(), signum)

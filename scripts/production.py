"""Start one production process: ``python scripts/production.py web|worker|beat``.

Each process is started by its own service (systemd unit, container) and restarted by it. The three
commands and their options live here so that every deployment starts them alike (docs/operations.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def commands() -> dict[str, list[str]]:
    concurrency = os.environ.get("CELERY_WORKER_CONCURRENCY", "2")
    schedule = Path(os.environ.get("CELLBATCH_VAR_DIR", ROOT / "var")) / "celerybeat-schedule"
    return {
        "web": [str(BIN / "gunicorn"), "config.wsgi", "--config", str(ROOT / "config" / "gunicorn.conf.py")],
        # Pool processes are replaced after CELERY_WORKER_MAX_TASKS_PER_CHILD tasks (config/settings.py).
        "worker": [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
        ],
        # Exactly one beat process in the whole deployment: two would schedule every task twice.
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO", f"--schedule={schedule}"],
    }


def main(argv: list[str]) -> int:
    known = commands()
    if len(argv) != 1 or argv[0] not in known:
        print(f"usage: {Path(__file__).name} {'|'.join(known)}", file=sys.stderr)
        return 2
    if os.environ.get("CELLBATCH_ENV") != "production":
        print("CELLBATCH_ENV=production must be set (docs/operations.md lists the variables).", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    # The translation catalogues are compiled here, not committed (docs/decisions.md, D-i18n-2).
    from scripts.messages import compile_all

    compile_all()
    command = known[argv[0]]
    os.execv(command[0], command)  # noqa: S606 -- replaces this process: the service manager sees the server itself


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Before the suite: say which PostgreSQL and broker it will use, and fail early in CI if one is down."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    ci = os.environ.get("CI", "").lower() == "true"
    problems = []
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name)
        if url:
            ok = reachable(url)
            print(
                f"{name}: {urlparse(url)._replace(netloc=urlparse(url).hostname or '').geturl()} "
                f"{'answers' if ok else 'DOES NOT ANSWER'}"
            )
            if not ok:
                problems.append(name)
        else:
            print(
                f"{name}: unset (embedded {'PostgreSQL under var/' if name == 'DATABASE_URL' else 'Redis for tests'})"
            )
            if ci:
                problems.append(f"{name} unset under CI=true")
    if problems:
        print("services missing: " + ", ".join(problems), file=sys.stderr)
        return 1 if ci else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

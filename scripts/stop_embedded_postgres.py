"""Stop the embedded PostgreSQL under var/ (started by the first command that needed it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    data_dir = Path(os.environ.get("CELLBATCH_VAR_DIR", ROOT / "var")) / "pgdata"
    if not (data_dir / "postmaster.pid").exists():
        print("embedded PostgreSQL is not running")
        return 0
    import pgserver

    pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    cmd = [str(pg_ctl), "-D", str(data_dir), "-w", "stop"]
    if os.geteuid() == 0:  # pgserver runs the server as the 'pgserver' user when started by root
        cmd = ["runuser", "-u", "pgserver", "--", *cmd]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())

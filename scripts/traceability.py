"""Traceability report: for each URS id in docs/requirements.md, the tests that carry it.

Run with the project's virtualenv: ``.venv/bin/python scripts/traceability.py``. Exits non-zero
when a requirement has no test, or a test names an id that is not a requirement.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URS_ROW = re.compile(r"^\|\s*(URS-\d{3})\s*\|\s*(.+?)\s*\|", re.MULTILINE)
MARK = re.compile(r"urs\(([^)]*)\)")


def requirements() -> dict[str, str]:
    text = (ROOT / "docs" / "requirements.md").read_text()
    return dict(URS_ROW.findall(text))


def tests_by_requirement() -> dict[str, list[str]]:
    """Collect the suite (no test runs) and read each test's urs marker."""
    code = (
        "import pytest, sys\n"
        "class P:\n"
        "    def pytest_collection_finish(self, session):\n"
        "        for item in session.items:\n"
        "            for m in item.iter_markers('urs'):\n"
        "                print('URS', item.nodeid, *m.args, sep='\\t')\n"
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider'], plugins=[P()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    found: dict[str, list[str]] = defaultdict(list)
    for line in out.splitlines():
        if line.startswith("URS\t"):
            _, nodeid, *ids = line.split("\t")
            for urs_id in ids:
                found[urs_id].append(nodeid)
    return found


def main() -> int:
    reqs = requirements()
    tests = tests_by_requirement()
    missing = [r for r in reqs if r not in tests]
    unknown = sorted(set(tests) - set(reqs))
    for urs_id, text in reqs.items():
        print(f"{urs_id}  {text}")
        for nodeid in tests.get(urs_id, []):
            print(f"    ✓ {nodeid}")
        if urs_id in missing:
            print("    ✗ no test")
    for urs_id in unknown:
        print(f"{urs_id} is used by tests but not defined: {', '.join(tests[urs_id])}")
    print(f"\n{len(reqs) - len(missing)}/{len(reqs)} requirements proven by tests; {len(unknown)} unknown ids")
    return 1 if missing or unknown else 0


if __name__ == "__main__":
    sys.exit(main())

"""Copy the screenshots the user guide shows from var/screenshots (written by the browser suite) into
docs/user-guide/, scaled to at most 900 px wide and reduced to a 128-colour palette (small PNGs).

Run after the browser suite: ``.venv/bin/python scripts/guide_screenshots.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "var" / "screenshots"
TARGET = ROOT / "docs" / "user-guide"
WIDTH = 900
# The screenshots docs/user-guide.md shows, by the name the browser suite gives them.
GUIDE = (
    "operator-home",
    "batch-page-operator",
    "batch-page-labels",
    "verifier-home",
    "verify-all-gcsf-days",
    "qc-sample-results",
    "qa-review",
    "delivery-desk-tablet",
    "auditor-records",
)


def main() -> int:
    missing = [name for name in GUIDE if not (SOURCE / f"{name}.png").exists()]
    if missing:
        print(f"missing in {SOURCE}: {', '.join(missing)}; run tests/browser first", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in GUIDE:
        image = Image.open(SOURCE / f"{name}.png").convert("RGB")
        if image.width > WIDTH:
            image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=128).save(TARGET / f"{name}.png", optimize=True)
        print(f"{name}.png: {(TARGET / f'{name}.png').stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

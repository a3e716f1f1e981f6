"""How quantities read on screen and paper: cell counts in millions (37 × 10⁶), never 37000000."""

from __future__ import annotations

from decimal import Decimal

MILLION = Decimal(1_000_000)


def cells(count: int | Decimal | None) -> str:
    """``131000000`` → ``131 × 10⁶``; ``124450000`` → ``124.45 × 10⁶``; small counts stay as they are."""
    if count is None:
        return "—"
    value = Decimal(count)
    if abs(value) < MILLION:
        return f"{value:,}"
    millions = (value / MILLION).quantize(Decimal("0.01")).normalize()
    return f"{millions:f} × 10⁶"

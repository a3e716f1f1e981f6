"""Pages that wait for someone else's work (the batch page, the delivery desk) update themselves.

The page carries the stamp of the batch's audit trail it was drawn from (``batch_trail_stamp``); its script
(``batches/static/batches/live.js``) asks ``<page>/live/?stamp=<stamp>`` every ``LIVE_SECONDS`` seconds and
gets 204 while nothing of the batch was recorded, or the page's content drawn anew, which replaces the old
without a page load (what the person typed is kept). These requests are not the person's activity: they
neither save nor renew the session, so the idle timeout still ends an unattended session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from batches.accounts.middleware import not_activity
from batches.ledger.trail import batch_trail_stamp
from batches.models import Batch

# How often a waiting page asks; the script backs off after errors and pauses while the page is hidden.
LIVE_SECONDS = 5


def live_context(batch: Batch, url_name: str, *, live: bool = True) -> dict[str, Any]:
    """What the page's template needs to update itself (``live``: False on a page that shows a refusal, whose
    forms hold what was typed and must stay as they are)."""
    return {
        "live_url": reverse(url_name, args=[batch.pk]) if live else "",
        "live_stamp": batch_trail_stamp(batch),
        "live_seconds": LIVE_SECONDS,
    }


def live_answer(request: HttpRequest, batch: Batch, render: Callable[[], HttpResponse]) -> HttpResponse:
    """204 while the page's stamp is still the batch's; otherwise the page's content, drawn by ``render``."""
    not_activity(request)
    if request.GET.get("stamp", "") == batch_trail_stamp(batch):
        return HttpResponse(status=204)
    return render()

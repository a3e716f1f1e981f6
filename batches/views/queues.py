"""A work queue's page (/admin/queue/<slug>/): every item waiting for the role, each linking to exactly it."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from batches.admin.queues import QUEUES
from batches.roles import has_role, role_names


def work_queue(request: HttpRequest, slug: str) -> HttpResponse:
    queue = QUEUES.get(slug)
    if queue is None:
        raise Http404(_("No work queue %(slug)s; the queues are %(all)s.") % {"slug": slug, "all": ", ".join(QUEUES)})
    if not has_role(request.user, *queue.roles):
        roles = role_names(queue.roles)
        raise PermissionDenied(_("The queue “%(queue)s” is for %(roles)s.") % {"queue": queue.label, "roles": roles})
    context = {
        **admin.site.each_context(request),
        "title": queue.label,
        "queue": queue,
        "items": queue.items(),
    }
    return TemplateResponse(request, "admin/batches/work_queue.html", context)

"""Audit-trail pages mounted inside the admin site (its login, session timeout and look).

The admin has no hook for pages that belong to no ModelAdmin, so the site's URL list is extended
here, before the model admins' own patterns, once, when the admin autodiscovers this package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.urls import URLPattern, URLResolver, path, reverse

from batches.admin.links import AUDIT_TRAIL, register_batch_link
from batches.models import Batch
from batches.views import audit as views


def audit_urls(site: admin.AdminSite) -> list[URLPattern]:
    return [
        path(
            "batches/batch/<int:batch_id>/audit/",
            site.admin_view(views.batch_audit_trail),
            name="batches_batch_audit",
        ),
        path(
            "batches/batch/<int:batch_id>/audit.<str:fmt>",
            site.admin_view(views.batch_audit_export),
            name="batches_batch_audit_export",
        ),
        path("audit/user/<int:user_id>/", site.admin_view(views.user_audit_activity), name="audit_user_activity"),
    ]


def mount(site: admin.AdminSite) -> None:
    original: Callable[[], list[URLPattern | URLResolver]] = site.get_urls
    if getattr(original, "with_audit_pages", False):
        return

    def get_urls() -> list[Any]:
        return [*audit_urls(site), *original()]

    get_urls.with_audit_pages = True  # type: ignore[attr-defined]
    site.get_urls = get_urls  # type: ignore[method-assign]


mount(admin.site)

register_batch_link(
    section=AUDIT_TRAIL,
    label="Audit trail of this batch",
    url=lambda batch: reverse("admin:batches_batch_audit", args=[batch.pk]),
    roles=views.TRAIL_ROLES,
)


def export_url(fmt: str) -> Callable[[Batch], str]:
    return lambda batch: reverse("admin:batches_batch_audit_export", args=[batch.pk, fmt])


for fmt in ("csv", "json"):
    register_batch_link(
        section=AUDIT_TRAIL,
        label=f"Export the audit trail ({fmt.upper()})",
        url=export_url(fmt),
        roles=views.TRAIL_ROLES,
    )

"""API routes under /api/v1/; each topic keeps its own route module, listed here."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("qc.api.urls")),
    path("", include("batches.api.urls_audit")),
]

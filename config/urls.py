"""URL map: the admin (lab staff's daily tool) and the REST API under /api/v1/."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    # The admin is the application: the site's root (and the admin's "View site" link) lead to its home.
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file (?script): no inline script for the CSP to allow.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("batches.api.urls")),
]

# Django's own error answers: JSON under /api/, its HTML pages elsewhere.
handler400 = "batches.api.errors.bad_request"
handler403 = "batches.api.errors.permission_denied"
handler404 = "batches.api.errors.page_not_found"
handler500 = "batches.api.errors.server_error"

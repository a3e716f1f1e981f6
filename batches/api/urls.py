"""API routes under /api/v1/; each topic keeps its own route module, listed here."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from batches.api.views import BatchViewSet, PatientViewSet, ProcessDefinitionViewSet, step_views
from batches.services.steps import STEP_MODELS

router = SimpleRouter()
router.register("batches", BatchViewSet, basename="batch")
router.register("patients", PatientViewSet, basename="patient")
router.register("process-definitions", ProcessDefinitionViewSet, basename="process-definition")


def _step_routes() -> list[URLPattern]:
    routes = []
    for kind in STEP_MODELS:
        steps, detail, verify = step_views(kind)
        routes += [
            path(f"batches/<int:batch_id>/steps/{kind}/", steps, name=f"batch-steps-{kind}"),
            path(f"steps/{kind}/<int:step_id>/", detail, name=f"step-{kind}"),
            path(f"steps/{kind}/<int:step_id>/verify/", verify, name=f"step-{kind}-verify"),
        ]
    return routes


urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("qc.api.urls")),
    *_step_routes(),
    *router.urls,
    path("", include("batches.api.urls_custody")),
    path("", include("batches.api.urls_auth")),
    path("", include("batches.api.urls_documents")),
    path("", include("batches.api.urls_audit")),
    path("", include("batches.api.urls_inputs")),
]

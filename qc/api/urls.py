"""QC routes under /api/v1/, and the batch disposition actions (explicit POSTs)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import DefaultRouter

from qc.api import environment, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("specifications", views.SpecificationViewSet, basename="specification")
router.register("qc-samples", views.SampleViewSet, basename="qc-sample")
router.register("qc-results", views.ResultViewSet, basename="qc-result")
router.register("deviations", views.DeviationViewSet, basename="deviation")
router.register("qc-notifications", views.NotificationViewSet, basename="qc-notification")

urlpatterns: list[URLPattern | URLResolver] = [
    path("batches/<int:pk>/qc/", views.BatchQcView.as_view(), name="batch-qc"),
    path("batches/<int:pk>/release/", views.ReleaseView.as_view(), name="batch-release"),
    path(
        "batches/<int:pk>/release-conditionally/",
        views.ConditionalReleaseView.as_view(),
        name="batch-release-conditionally",
    ),
    path("batches/<int:pk>/reject/", views.RejectView.as_view(), name="batch-reject"),
    path("batches/<int:pk>/certify/", views.CertifyView.as_view(), name="batch-certify"),
    path(
        "monitoring-samples/<int:pk>/result/",
        environment.MonitoringResultView.as_view(),
        name="monitoring-sample-result",
    ),
    *router.urls,
]

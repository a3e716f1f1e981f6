"""QC routes under /api/v1/, and the batch disposition actions (explicit POSTs)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import DefaultRouter

from qc.api import environment, quality, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("specifications", views.SpecificationViewSet, basename="specification")
router.register("qc-samples", views.SampleViewSet, basename="qc-sample")
router.register("qc-results", views.ResultViewSet, basename="qc-result")
router.register("deviations", views.DeviationViewSet, basename="deviation")
router.register("qc-notifications", views.NotificationViewSet, basename="qc-notification")
router.register("oos-investigations", quality.InvestigationViewSet, basename="oos-investigation")
router.register("reportability", quality.ReportabilityViewSet, basename="reportability")

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
    path("deviations/<int:pk>/reclassify/", quality.ReclassifyView.as_view(), name="deviation-reclassify"),
    path(
        "batches/<int:pk>/authorise-conditional-release/",
        quality.AuthoriseView.as_view(),
        name="batch-authorise-conditional-release",
    ),
    path(
        "batches/<int:pk>/acknowledge-conditional-release/",
        quality.AcknowledgeView.as_view(),
        name="batch-acknowledge-conditional-release",
    ),
    path("batches/<int:pk>/close-follow-up/", quality.FollowUpCloseView.as_view(), name="batch-close-follow-up"),
    path("batches/<int:pk>/certify-final/", quality.CertifyFinalView.as_view(), name="batch-certify-final"),
    *router.urls,
]

"""Routes of custody, delivery and follow-up under /api/v1/."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import DefaultRouter

from batches.api import custody, storage

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patient-identities", custody.PatientIdentityViewSet, basename="patient-identity")
router.register("custody-events", custody.CustodyEventViewSet, basename="custody-event")
router.register("identity-scans", custody.IdentityScanViewSet, basename="identity-scan")
router.register("expired-use-authorizations", custody.ExpiredUseAuthorizationViewSet, basename="expired-use")
router.register("bedside-checks", custody.BedsideCheckViewSet, basename="bedside-check")
router.register("infusions", custody.InfusionViewSet, basename="infusion")
router.register("adverse-events", custody.AdverseEventViewSet, basename="adverse-event")
router.register("follow-up-visits", custody.FollowUpVisitViewSet, basename="follow-up-visit")
router.register("embryo-transfers", custody.EmbryoTransferViewSet, basename="embryo-transfer")
router.register("batches", custody.BatchDeliveryViewSet, basename="batch-delivery")
router.register("storage-excursions", storage.StorageExcursionViewSet, basename="storage-excursion")

urlpatterns: list[URLPattern | URLResolver] = [
    path("cohort/", custody.CohortView.as_view(), name="cohort"),
    path("storage-readings/", storage.StorageReadingsView.as_view(), name="storage-readings"),
    *router.urls,
]

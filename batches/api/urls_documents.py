"""Routes of batch-record documents and of record verification."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from batches.api.documents import BatchDocumentViewSet, VerifyView

router = SimpleRouter()
router.register("documents", BatchDocumentViewSet, basename="document")

urlpatterns: list[URLPattern | URLResolver] = [
    path("verify/", VerifyView.as_view(), name="verify-batch-record"),
    *router.urls,
]

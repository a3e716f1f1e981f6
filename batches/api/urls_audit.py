"""Read-only audit-trail routes under /api/v1/."""

from django.urls import URLPattern, path

from batches.api import audit

urlpatterns: list[URLPattern] = [
    path("batches/<int:batch_id>/audit-trail/", audit.BatchAuditTrailView.as_view(), name="batch-audit-trail"),
    path("batches/<int:batch_id>/audit-trail/export.csv", audit.export_view("csv"), name="batch-audit-trail-csv"),
    path("batches/<int:batch_id>/audit-trail/export.json", audit.export_view("json"), name="batch-audit-trail-json"),
    path("users/<int:user_id>/activity/", audit.UserActivityView.as_view(), name="user-activity"),
]

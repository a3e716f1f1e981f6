"""The admin app configured with CellBatch's own site (config.admin.CellBatchAdminSite)."""

from django.contrib.admin.apps import AdminConfig


class CellBatchAdminConfig(AdminConfig):
    default_site = "config.admin.CellBatchAdminSite"

"""The admin app configured with CellBatch's own site (config.admin.CellBatchAdminSite)."""

from django.conf import settings
from django.contrib.admin.apps import AdminConfig

from config import deployment


class CellBatchAdminConfig(AdminConfig):
    default_site = "config.admin.CellBatchAdminSite"

    def ready(self) -> None:
        super().ready()
        # The first installed app: every process (web, worker, beat, command) refuses to start in
        # production while `check --deploy` would warn about a security setting.
        if settings.PRODUCTION:
            deployment.require_clean_security_checks()

"""The admin app configured with CellBatch's own site (config.admin.CellBatchAdminSite)."""

from typing import Any

from django.conf import settings
from django.contrib.admin.apps import AdminConfig

from config import deployment, trigger_registry


class CellBatchAdminConfig(AdminConfig):
    default_site = "config.admin.CellBatchAdminSite"

    def __init__(self, app_name: str, app_module: Any) -> None:
        super().__init__(app_name, app_module)
        # The first installed app is configured before Django imports any model, so before any trigger
        # is registered: the registry that checks each registration in constant time goes in now.
        trigger_registry.install()

    def ready(self) -> None:
        super().ready()
        # The first installed app: every process (web, worker, beat, command) refuses to start in
        # production while `check --deploy` would warn about a security setting.
        if settings.PRODUCTION:
            deployment.require_clean_security_checks()

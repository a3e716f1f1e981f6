from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "qc"
    verbose_name = "Quality control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The QC state-change actions (batches.services.actions) are declared beside their services.
        from qc.services import sample_results  # noqa: F401

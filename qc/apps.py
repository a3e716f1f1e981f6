from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "qc"
    verbose_name = "Quality control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A refused identity or a transport excursion opens its deviation wherever it happens.
        from qc.services import identity_alerts

        identity_alerts.connect()
        # The QC state-change actions (batches.services.actions) are declared beside their services.
        from qc.services import sample_results  # noqa: F401

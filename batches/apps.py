from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "batches"
    verbose_name = "Batches"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every task's writes are attributed to system:<task name>; the handlers only open and close
        # the audit context, so connecting them here (in web processes too) costs nothing.
        from celery.signals import task_postrun, task_prerun
        from django.core import checks as django_checks

        from batches import checks
        from batches.task_audit import close_task_audit_context, open_task_audit_context

        task_prerun.connect(open_task_audit_context, weak=False)
        task_postrun.connect(close_task_audit_context, weak=False)
        # The state-change actions are declared beside their services (batches.services.actions): import
        # those modules so that the declarations are complete before any page or endpoint reads them.
        from batches.model_labels import translate_labels
        from batches.release import closure, conditional, delivery, disposition  # noqa: F401
        from batches.services import batch, gcsf_days, steps  # noqa: F401

        translate_labels()
        # Production refuses the development seal certificate and demonstration data.
        django_checks.register(checks.seal_certificate_check, django_checks.Tags.security)
        django_checks.register(checks.demo_data_check)
        # Development and tests use one login for owner and application: act as the application role.
        from django.db.backends.signals import connection_created

        from batches.dbrole import assume_app_role

        connection_created.connect(assume_app_role, weak=False, dispatch_uid="cellbatch_app_role")

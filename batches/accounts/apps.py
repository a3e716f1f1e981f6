from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Connects the access-log receivers to Django's and django-axes's authentication signals, and
    to the user and role model signals (account changes)."""

    name = "batches.accounts"
    label = "cellbatch_accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Logins, logouts and failures are only observable through these signals (Django and axes
        # emit them from inside authenticate()/login()/logout()); the receivers only write the log.
        from batches.accounts import changes, language, signals  # noqa: F401

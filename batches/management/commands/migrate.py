"""``migrate`` as the owner of the tables, then the application role's grants (batches.dbrole)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate

from batches.dbrole import grant_app_role, owner_session


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as the owner; grants the application role its data privileges afterwards."

    def handle(self, *args: Any, **options: Any) -> None:
        with owner_session():
            super().handle(*args, **options)
            grant_app_role()

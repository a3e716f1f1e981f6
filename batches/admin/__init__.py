"""Admin registrations, one module per topic."""

from batches.admin import documents  # noqa: F401

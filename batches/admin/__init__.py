"""Admin registrations, one module per topic."""

from batches.admin import accounts  # noqa: F401

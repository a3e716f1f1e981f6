"""Admin registrations, one module per topic."""

from batches.admin import custody  # noqa: F401

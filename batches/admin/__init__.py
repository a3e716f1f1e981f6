"""Admin registrations; each topic keeps its own module, imported here."""

from batches.admin import audit  # noqa: F401

"""Admin for lab staff; each topic registers its ModelAdmins in its own module, imported here."""

from batches.admin import batch, master

__all__ = ["batch", "master"]

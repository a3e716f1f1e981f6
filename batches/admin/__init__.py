"""Admin for lab staff; each topic registers its ModelAdmins in its own module, imported here.

The site itself (its index, its custom pages) is config.admin.CellBatchAdminSite.
"""

from batches.admin import accounts, batch, custody, documents, master

__all__ = ["accounts", "batch", "custody", "documents", "master"]

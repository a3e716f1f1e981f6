"""Admin for lab staff; each topic registers its ModelAdmins in its own module, imported here."""

from django.contrib import admin

from batches.admin import accounts, audit, batch, custody, documents, home, master

admin.site.site_header = "CellBatch · electronic batch records"
admin.site.site_title = "CellBatch"
admin.site.index_title = "Batch records"

__all__ = ["accounts", "audit", "batch", "custody", "documents", "home", "master"]

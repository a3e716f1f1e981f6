"""Pages of the QC app mounted in the admin site (config.admin)."""

"""Server-rendered views (mounted under the admin site)."""

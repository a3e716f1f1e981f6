"""QC services: one function per state change; admin, API and tasks only call these."""

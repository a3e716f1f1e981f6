"""Services: one function per state change. Admin, API, commands and tasks only call these."""

"""Account controls (21 CFR 11.300): access log, lockout, identity re-checks, user IDs, TOTP enrolment."""

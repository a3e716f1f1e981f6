"""gunicorn settings for the production web process (``gunicorn config.wsgi -c config/gunicorn.conf.py``).

Requests are short: PDF builds and other slow work run on Celery workers, so a request still running
after the timeout is stuck, not busy. Each value can be changed through the variable named beside it.
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Synchronous workers: two per core plus one is gunicorn's own advice for a database-bound app.
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# A worker is replaced after this many requests, so a slow leak never grows for weeks.
max_requests = 1000
max_requests_jitter = 100
# Load the app (and run the start-up checks) once in the master: a refusal stops gunicorn itself
# instead of every worker failing to boot in turn.
preload_app = True
# The TLS-terminating proxy in front: only its address may set X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"

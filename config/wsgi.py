"""WSGI entry point (gunicorn config.wsgi in production, docs/operations.md)."""

import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connections

from config import deployment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# gunicorn runs no system checks: a production web process runs them once as it loads, and refuses to
# serve with demonstration data or the development seal certificate.
if settings.PRODUCTION:
    deployment.require_passing_checks()
    # The checks read the database; gunicorn forks its workers after this, and no worker may share
    # the master's connection.
    connections.close_all()

# What is loaded by now (Django, the apps, the URL and template machinery) lives as long as the
# process: kept out of the collector's full passes, which otherwise walk it all, about 100 ms each,
# every few dozen requests (bench/scale.py shows them as the p99 of the lists).
gc.freeze()

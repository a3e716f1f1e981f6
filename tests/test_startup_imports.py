"""What a process imports to start (docs/decisions.md D-startup-2): a web process, with every app, admin
page and endpoint loaded, has not imported the libraries that draw and seal records and labels; a worker's
main process has, before it forks its children."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from config.celery import RECORD_BUILDER_MODULES

BUILDER_LIBRARIES = ("pyhanko", "reportlab.platypus", "reportlab.pdfgen.canvas")

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # every view, admin page and endpoint
web = {name: name in sys.modules for name in sys.argv[1:]}
from celery.signals import worker_init
from config.celery import app
worker_init.send(sender=None)  # what a worker's main process runs before it forks
worker = {name: name in sys.modules for name in sys.argv[1:]}
print(json.dumps({"web": web, "worker": worker}))
"""


def test_a_web_process_never_imports_the_record_builder_and_a_worker_loads_it_before_forking() -> None:
    names = [*BUILDER_LIBRARIES, *RECORD_BUILDER_MODULES]
    environment = {**os.environ, "PYTHONPATH": str(settings.BASE_DIR)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *names],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["web"] == dict.fromkeys(names, False)
    assert loaded["worker"] == dict.fromkeys(names, True)

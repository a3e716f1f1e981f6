"""The OpenAPI schema is complete: generating it with --fail-on-warn must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command


@pytest.mark.urs("URS-019")
def test_openapi_schema_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for route in ("/api/v1/batches/{id}/start-mobilization/", "/api/v1/steps/gcsf/{step_id}/verify/"):
        assert route in schema


@pytest.mark.urs("URS-019")
@pytest.mark.django_db
def test_schema_and_docs_are_served(admin_client: object) -> None:
    """To a signed-in user (tests/test_web_security.py: anonymous callers are refused)."""
    from django.test import Client

    assert isinstance(admin_client, Client)
    assert admin_client.get("/api/v1/schema/").status_code == 200
    assert admin_client.get("/api/v1/docs/").status_code == 200

"""Every answer carries a Content-Security-Policy the pages live with; API answers are never stored;
the API documentation is served from local files to signed-in users only."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import Personas, walk_batch
from tests.helpers import client_for

pytestmark = [pytest.mark.urs("URS-181"), pytest.mark.django_db]

# A data block (json_script) is never executed, so the policy does not apply to it.
DATA_TYPES = {"application/json", "application/ld+json"}


class ScriptFinder(HTMLParser):
    """Collects every <script> that would run inline: no src, no nonce, not a data block."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and "src" not in named and "nonce" not in named and named.get("type") not in DATA_TYPES:
            self.inline.append(self.get_starttag_text() or tag)
        # Event-handler attributes (onclick=…) are inline script too, and no nonce can allow them.
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]


def directives(header: str) -> dict[str, list[str]]:
    parts = [p.split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def assert_policy(response: object) -> None:
    policy = directives(response["Content-Security-Policy"])  # type: ignore[index]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


def main_pages(people: Personas) -> list[str]:
    batch = walk_batch(people, "collection")
    return [
        reverse("admin:index"),
        reverse("admin:batches_batch_changelist"),
        reverse("admin:batches_batch_change", args=[batch.pk]),
        reverse("admin:batches_batch_audit", args=[batch.pk]),
        reverse("admin:batch_labels", args=[batch.pk]),
        reverse("admin:batches_cohort"),
        reverse("admin:batches_delivery_desk_index"),
        reverse("admin:batches_delivery_desk", args=[batch.pk]),
        reverse("admin:qc_review_index"),
        reverse("admin:qc_review_batch", args=[batch.pk]),
        reverse("admin:batches_processdefinition_changelist"),
        reverse("admin:batches_patient_changelist"),
        reverse("admin:qc_qcresult_changelist"),
        reverse("admin:qc_deviation_changelist"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:password_change"),
    ]


def test_the_login_page_carries_the_policy_and_runs_no_inline_script() -> None:
    response = Client().get(reverse("admin:login"))
    assert response.status_code == 200
    assert_policy(response)
    finder = ScriptFinder()
    finder.feed(response.content.decode())
    assert finder.inline == []
    assert finder.handlers == []


def test_every_main_page_as_every_role_runs_no_inline_script(people: Personas) -> None:
    pages = main_pages(people)
    roles = ["operator", "verifier", "qc_analyst", "qa", "qp", "clinician", "auditor", "admin"]
    rendered = 0
    for role in roles:
        client = client_for(getattr(people, role))
        for url in pages:
            response = client.get(url)
            assert response.status_code in {200, 302, 403, 404}, (role, url, response.status_code)
            assert_policy(response)
            if response.status_code == 200 and "text/html" in response["Content-Type"]:
                rendered += 1
                finder = ScriptFinder()
                finder.feed(response.content.decode())
                assert finder.inline == [], (role, url)
                assert finder.handlers == [], (role, url)
    assert rendered >= len(pages)  # each page rendered for at least one role on average


def test_api_answers_are_never_stored(people: Personas) -> None:
    signed_in = client_for(people.auditor, "token").get("/api/v1/batches/")
    assert signed_in.status_code == 200
    assert signed_in["Cache-Control"] == "no-store"
    assert_policy(signed_in)
    refused = APIClient().get("/api/v1/batches/")
    assert refused.status_code == 401
    assert refused["Cache-Control"] == "no-store"
    missing = APIClient().get("/api/v1/no-such-thing/")
    assert missing["Cache-Control"] == "no-store"


def test_admin_pages_keep_djangos_own_caching_rules(people: Personas) -> None:
    response = client_for(people.auditor).get(reverse("admin:index"))
    assert "no-store" in response["Cache-Control"]  # Django's admin marks its pages never_cache itself


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/schema/", "/api/v1/docs/?script="])
def test_api_documentation_is_for_signed_in_users_only(url: str) -> None:
    response = APIClient().get(url)
    assert response.status_code in {401, 403}


def test_api_documentation_comes_from_local_pinned_files(people: Personas) -> None:
    client = client_for(people.auditor)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "http://" not in html
    assert "https://" not in html
    finder = ScriptFinder()
    finder.feed(html)
    assert finder.inline == []  # the start-up script is a separate file (the ?script address)
    assert_policy(page)
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content

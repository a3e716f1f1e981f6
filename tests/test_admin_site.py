"""One admin site: its index draws the role home, its URL list names every custom page, and old addresses
that users bookmarked still lead to the page."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.test import Client
from django.urls import reverse

from config.admin import CellBatchAdminSite
from tests.factories import Personas, walk_batch

ROOT = Path(__file__).resolve().parent.parent


def test_the_default_site_is_cellbatchs_and_nothing_patches_it() -> None:
    assert isinstance(admin.site, CellBatchAdminSite)
    found = subprocess.run(
        ["git", "grep", "-n", r"site\.index =\|site\.get_urls =", "--", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout == ""


def test_no_model_admin_adds_urls_of_its_own() -> None:
    """Every custom page is in CellBatchAdminSite.custom_urls, not hidden in a ModelAdmin."""
    for model, model_admin in admin.site._registry.items():
        own = type(model_admin).get_urls
        assert own in (admin.ModelAdmin.get_urls, UserAdmin.get_urls), model


@pytest.mark.django_db
def test_desk_and_review_live_at_addresses_that_say_what_they_are_and_old_ones_redirect(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    assert reverse("admin:batches_delivery_desk", args=[batch.pk]) == f"/admin/delivery-desk/{batch.pk}/"
    assert reverse("admin:qc_review_batch", args=[batch.pk]) == f"/admin/qa-review/{batch.pk}/"
    client = Client()
    client.force_login(people.operator)
    moved = {
        f"/admin/batches/bedsidecheck/desk/{batch.pk}/": f"/admin/delivery-desk/{batch.pk}/",
        "/admin/batches/bedsidecheck/desk/": "/admin/delivery-desk/",
        f"/admin/qc/review/{batch.pk}/": f"/admin/qa-review/{batch.pk}/",
        "/admin/qc/review/?status__exact=quarantine": "/admin/qa-review/?status__exact=quarantine",
        "/admin/batches/infusion/cohort/": "/admin/cohort/",
        f"/admin/batches/custodyevent/labels/{batch.pk}/": f"/admin/batches/batch/{batch.pk}/labels/",
    }
    for old, new in moved.items():
        response = client.get(old)
        assert response.status_code == 301, old
        assert response["Location"] == new
    assert client.get(f"/admin/delivery-desk/{batch.pk}/").status_code == 200


@pytest.mark.django_db
def test_the_qa_review_list_filters_by_state_and_links_each_batch(people: Personas) -> None:
    quarantined = walk_batch(people, "quarantine", subject_code="IGX1-S101")
    collecting = walk_batch(people, "processing", subject_code="IGX1-S102")
    client = Client()
    client.force_login(people.qa)
    body = client.get(reverse("admin:qc_review_index") + "?status=quarantine").content.decode()
    assert reverse("admin:qc_review_batch", args=[quarantined.pk]) in body
    assert reverse("admin:qc_review_batch", args=[collecting.pk]) not in body
    everything = client.get(reverse("admin:qc_review_index")).content.decode()
    assert reverse("admin:qc_review_batch", args=[collecting.pk]) in everything
    anonymous = Client().get(reverse("admin:qc_review_index"))
    assert anonymous.status_code == 302  # to the login page


@pytest.mark.django_db
def test_the_root_address_and_view_site_lead_to_the_admin_home(people: Personas) -> None:
    client = Client()
    client.force_login(people.operator)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert client.get(response["Location"]).status_code == 200


def test_nobody_sees_or_creates_another_users_authenticator_in_the_admin() -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert not admin.site.is_registered(TOTPDevice)


@pytest.mark.django_db
def test_the_qa_decision_has_no_preselected_choice(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    client = Client()
    client.force_login(people.qa)
    body = client.get(reverse("admin:qc_review_batch", args=[batch.pk])).content.decode()
    select = body[body.index('name="decision"') : body.index("</select>", body.index('name="decision"'))]
    assert '<option value="" selected>Choose a decision…</option>' in select
    assert 'value="release"' in select
    assert 'value="certify"' not in select  # the QA reviewer is offered only QA's decisions

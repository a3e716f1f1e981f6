"""The shared test helpers prove what they claim: every GMP table counted, an update seen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client
from rest_framework.test import APIClient

from batches.audit import audit_context
from batches.models import AccessEvent, Batch
from tests.factories import Personas, walk_batch
from tests.helpers import NOT_GMP_RECORDS, client_for, gmp_models, gmp_row_counts, nothing_written

pytestmark = pytest.mark.django_db


def test_every_concrete_model_and_event_table_of_both_apps_is_counted_except_the_access_log() -> None:
    labels = {model._meta.label for model in gmp_models()}
    concrete = {
        m._meta.label for app in ("batches", "qc") for m in apps.get_app_config(app).get_models() if not m._meta.proxy
    }
    assert labels == concrete - NOT_GMP_RECORDS
    assert {"batches.Batch", "batches.BatchEvent", "qc.QcResult", "qc.QcResultEvent"} <= labels
    assert "batches.AccessEvent" not in labels


def test_an_update_in_place_counts_as_a_write(people: Personas) -> None:
    """Row counts alone would miss an update: the model's event table gains the row that shows it."""
    batch = walk_batch(people, "registered")
    refused = pytest.raises(AssertionError, match=r"batches\.BatchEvent")
    with refused, nothing_written(), audit_context("system:test", reason="weight re-measured"):
        Batch.objects.filter(pk=batch.pk).update(body_weight_kg=Decimal("63.0"))


def test_the_access_log_of_a_refusal_is_not_a_write(people: Personas) -> None:
    with nothing_written():
        AccessEvent.objects.create(username="intruder", event="login_failed", outcome="failure")
    assert "batches.AccessEvent" not in gmp_row_counts()


def test_one_factory_gives_a_session_an_api_login_or_a_token(people: Personas) -> None:
    batch = walk_batch(people, "registered")
    browser = client_for(people.auditor)
    assert isinstance(browser, Client)
    assert browser.get(f"/admin/batches/batch/{batch.pk}/change/").status_code == 200
    for kind in ("api", "token"):
        api = client_for(people.auditor, kind)
        assert isinstance(api, APIClient)
        assert api.get(f"/api/v1/batches/{batch.pk}/").json()["batch_number"] == batch.batch_number

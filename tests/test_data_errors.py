"""Values a column cannot hold are refused with a field message, in the API and in the admin; nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DataError, connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from batches.api.exceptions import exception_handler
from qc.models import QcResult
from tests.factories import PASSWORD, Personas, qc_sample, quarantined_batch
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
OVERFLOW = "100000000000000000000"


@pytest.mark.urs("URS-164")
def test_an_overflowing_qc_value_answers_400_on_the_value_field(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    client = client_for(people.qc_analyst, "token")
    client.raise_request_exception = False
    body = {
        "sample": sample.pk,
        "test": "viability",
        "value": OVERFLOW,
        "unit": "%",
        "tested_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "password": PASSWORD,
    }
    response = client.post("/api/v1/qc-results/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert "at most 16 digits before the decimal point" in str(response.json()["value"])
    assert not QcResult.objects.exists()
    # Within the column, a viability above 100 % is still refused: the dose cannot be calculated from it.
    response = client.post("/api/v1/qc-results/", {**body, "value": "9999999999999999"}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert "is outside the limit 0–100 %" in str(response.json()["value"])
    assert not QcResult.objects.exists()
    response = client.post("/api/v1/qc-results/", {**body, "value": "95.5"}, format="json")
    assert response.status_code == 201, response.content[:300]


@pytest.mark.urs("URS-164")
def test_an_overflowing_qc_value_is_a_form_error_in_the_admin(people: Personas, client: Client) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    client.force_login(people.qc_analyst)
    tested_at = timezone.localtime() - timedelta(minutes=1)
    response = client.post(
        "/admin/qc/qcresult/add/",
        {
            "sample": sample.pk,
            "test": "viability",
            "value": OVERFLOW,
            "unit": "%",
            "tested_at": tested_at.strftime("%Y-%m-%d %H:%M:%S"),
            "password": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "at most 16 digits before the decimal point" in response.content.decode()
    assert not QcResult.objects.exists()


@pytest.mark.urs("URS-164")
@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("infusion", {"left_cells": 10**30, "right_cells": 1, "left_volume_ml": "1.0", "right_volume_ml": "1.0"}),
        ("follow-up", {"endometrial_thickness_mm": "1000000"}),
    ],
)
def test_out_of_range_numbers_in_plain_bodies_answer_400(people: Personas, kind: str, body: dict[str, object]) -> None:
    batch = quarantined_batch(people)
    client = client_for(people.clinician, "token")
    client.raise_request_exception = False
    now = (timezone.now() - timedelta(minutes=5)).isoformat()
    if kind == "infusion":
        url = f"/api/v1/batches/{batch.pk}/infusion/"
        payload = {"started_at": now, "ended_at": now, "password": PASSWORD, **body}
    else:
        url = "/api/v1/follow-up-visits/"
        payload = {"batch": batch.pk, "visit_date": str(timezone.localdate()), "menses": "normal", **body}
    response = client.post(url, payload, format="json")
    assert response.status_code == 400, response.content[:300]
    assert set(body) & set(response.json())


@pytest.mark.urs("URS-164")
def test_a_database_data_error_becomes_a_400_json_answer() -> None:
    """The last resort, for a value that slips past validation: PostgreSQL's own refusal, as a 400."""
    with pytest.raises(DataError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::numeric(20, 4)", [OVERFLOW])
    request = APIRequestFactory().post("/api/v1/qc-results/")
    response = exception_handler(refused.value, {"request": request, "view": None})
    assert response is not None
    assert response.status_code == 400
    assert "numeric field overflow" in response.data["non_field_errors"][0]

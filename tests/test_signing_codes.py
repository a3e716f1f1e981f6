"""One-time codes at every signing prompt: an enrolled user signs with password and code, in the admin and the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from batches.models import AccessEvent, BatchDisposition, ElectronicSignature, GcsfAdministration
from batches.services import steps
from qc.models import QcResult
from qc.services.testing import qc_result_review
from tests.factories import (
    PASSWORD,
    Personas,
    gcsf_values,
    qc_sample,
    quarantined_batch,
    record_passing_qc,
    scans,
    selection_values,
    walk_batch,
    with_scans,
)
from tests.helpers import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.urs("URS-057")]
API = "/api/v1"
CODE_LABEL = "One-time code (authenticator app)"


def enrol(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def fresh_code(device: TOTPDevice) -> str:
    """A code the device accepts now: this time step's, or the next one when this one was used already
    (django-otp never accepts a code twice, and accepts one step ahead)."""
    device.refresh_from_db()
    counter = max(TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t(), device.last_t + 1)
    return f"{hotp(device.bin_key, counter, digits=device.digits):0{device.digits}d}"


def database_state() -> dict[str, int]:
    """Row counts of every batch-record and QC table, the access log (which a refusal writes) left out."""
    return {
        model._meta.label: model._default_manager.count()
        for label in ("batches", "qc")
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy and model._meta.model_name not in {"accessevent", "accesseventevent"}
    }


def refusals(username: str) -> list[str]:
    events = AccessEvent.objects.filter(username=username, event="signature_failed").order_by("pk")
    return list(events.values_list("detail", flat=True))


def posted(values: dict[str, Any], **extra: str) -> dict[str, str]:
    """What a browser posts: local datetimes to the second, ISO dates, plain numbers."""
    data: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, list):  # scanned barcodes, one per line
            data[name] = "\n".join(value)
        elif isinstance(value, datetime):
            data[name] = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")
        elif isinstance(value, date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return {**data, **extra}


def as_json(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    plain = {
        k: v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, Decimal) else v for k, v in values.items()
    }
    return {**plain, **extra}


def test_enrolled_operator_signs_a_step_in_the_admin_with_a_code_and_is_refused_without(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    device = enrol(people.operator)
    page = reverse("admin:batches_batch_change", args=[batch.pk])
    record = reverse("admin:batches_batch_record", args=[batch.pk, "gcsf"])
    assert CODE_LABEL in client_for(people.operator).get(page).content.decode()
    assert CODE_LABEL not in client_for(people.verifier).get(page).content.decode()  # no authenticator, no field
    before = database_state()

    refused = client_for(people.operator).post(record, posted(gcsf_values(1), password=PASSWORD))

    assert refused.status_code == 200
    assert (
        "Enter the 6-digit code from your authenticator app; nothing was signed or saved." in refused.content.decode()
    )
    assert database_state() == before
    assert refusals("operator") == ["one-time code missing"]

    done = client_for(people.operator).post(
        record,
        posted(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD, otp_token=fresh_code(device)),
    )

    assert done.status_code == 302
    step = GcsfAdministration.objects.get(batch=batch)
    signature = ElectronicSignature.objects.on(step).get(meaning="performed")
    assert signature.signer == people.operator


def test_enrolled_users_record_and_verify_a_step_through_the_api_only_with_a_code(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    operator_phone, verifier_phone = enrol(people.operator), enrol(people.verifier)
    body = as_json(with_scans(people, batch, "selection", selection_values()), password=PASSWORD)
    before = database_state()

    refused = client_for(people.operator, "api").post(f"{API}/batches/{batch.pk}/steps/selection/", body, format="json")
    wrong = client_for(people.operator, "api").post(
        f"{API}/batches/{batch.pk}/steps/selection/", {**body, "otp_token": "000000x"}, format="json"
    )

    assert refused.status_code == 403
    assert "6-digit code" in refused.json()["detail"]
    assert wrong.status_code == 403
    assert "one-time code is not correct" in wrong.json()["detail"]
    assert database_state() == before
    assert refusals("operator") == ["one-time code missing", "wrong one-time code"]

    recorded = client_for(people.operator, "api").post(
        f"{API}/batches/{batch.pk}/steps/selection/", {**body, "otp_token": fresh_code(operator_phone)}, format="json"
    )
    assert recorded.status_code == 201, recorded.json()
    verify = f"{API}/steps/selection/{recorded.json()['id']}/verify/"
    assert client_for(people.verifier, "api").post(verify, {"password": PASSWORD}, format="json").status_code == 403
    verified = client_for(people.verifier, "api").post(
        verify, {"password": PASSWORD, "otp_token": fresh_code(verifier_phone)}, format="json"
    )
    assert verified.status_code == 200, verified.json()
    assert verified.json()["verified_by"] == "verifier"
    assert refusals("verifier") == ["one-time code missing"]
    signed = ElectronicSignature.objects.filter(batch=batch, content_type__model="cd133selection")
    assert sorted(signed.values_list("meaning", "signer__username")) == [
        ("performed", "operator"),
        ("verified", "verifier"),
    ]


def test_enrolled_analyst_and_qa_sign_a_qc_result_and_a_release_with_codes(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("cd133_purity",))
    analyst_phone, qa_phone = enrol(people.qc_analyst), enrol(people.qa)
    result_body = {
        "sample": qc_sample(people, batch).pk,
        "test": "cd133_purity",
        "value": "92.5",
        "unit": "%",
        "tested_at": (timezone.now() - timedelta(minutes=2)).isoformat(),
        "password": PASSWORD,
    }
    before = database_state()

    refused = client_for(people.qc_analyst, "api").post(f"{API}/qc-results/", result_body, format="json")

    assert refused.status_code == 403
    assert database_state() == before
    assert refusals("qc_analyst") == ["one-time code missing"]
    created = client_for(people.qc_analyst, "api").post(
        f"{API}/qc-results/", {**result_body, "otp_token": fresh_code(analyst_phone)}, format="json"
    )
    assert created.status_code == 201, created.json()
    qc_result_review(reviewer=people.qc_reviewer, result_id=created.json()["id"], password=PASSWORD)
    assert QcResult.objects.get(pk=created.json()["id"]).verdict == "pass"

    review_page = f"/admin/qa-review/{batch.pk}/"
    assert CODE_LABEL in client_for(people.qa).get(review_page).content.decode()
    before = database_state()
    refused_release = client_for(people.qa).post(review_page, {"decision": "release", "password": PASSWORD})

    assert "Enter the 6-digit code" in refused_release.content.decode()
    assert database_state() == before
    assert refusals("qa_reviewer") == ["one-time code missing"]
    released = client_for(people.qa).post(
        review_page, {"decision": "release", "password": PASSWORD, "otp_token": fresh_code(qa_phone)}
    )
    assert released.status_code == 302
    disposition = BatchDisposition.objects.get(batch=batch, decision="released")
    assert ElectronicSignature.objects.on(disposition).get(meaning="released").signer == people.qa


def test_a_used_code_does_not_sign_a_second_time(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    device = enrol(people.operator)
    code = fresh_code(device)
    step = steps.step_record(
        kind="selection",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=selection_values(),
        otp_token=code,
        **scans(people, batch, "selection", selection_values()),
    )
    before = database_state()

    current = client_for(people.operator, "api").get(f"{API}/steps/selection/{step.pk}/")
    response = client_for(people.operator, "api").patch(
        f"{API}/steps/selection/{step.pk}/",
        {"final_volume_ml": "9.5", "reason": "volume re-read on the bag", "password": PASSWORD, "otp_token": code},
        format="json",
        HTTP_IF_MATCH=current["ETag"],
    )

    assert response.status_code == 403
    assert "already used" in response.json()["detail"]
    assert database_state() == before
    assert refusals("operator") == ["wrong one-time code"]

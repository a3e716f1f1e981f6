"""A step entry is refused with every field's error at once: the event time's together with the others."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from batches import demo_chain, formatting
from batches.services import steps
from tests.factories import PASSWORD, Personas, apheresis_values, cast, gcsf_values, selection_values, walk_batch
from tests.helpers import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.urs("URS-059")]


def database_state() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_app_config("batches").get_models()
        if not model._meta.proxy and model._meta.model_name not in {"accessevent", "accesseventevent"}
    }


def test_a_future_time_is_reported_with_the_dose_day_and_lot_errors(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    tomorrow = timezone.now() + timedelta(days=1)
    values = gcsf_values(
        9, at=tomorrow, prescribed_ug_per_kg=Decimal("20"), drug_expiry=timezone.localdate() - timedelta(days=1)
    )
    before = database_state()

    with pytest.raises(ValidationError) as refused:
        steps.step_record(kind="gcsf", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values)

    errors = refused.value.message_dict
    assert set(errors) == {"administered_at", "day", "prescribed_ug_per_kg", "drug_expiry"}
    assert errors["administered_at"] == [f"{formatting.moment(tomorrow)} is in the future (server time)."]
    assert database_state() == before


def test_a_missing_late_entry_reason_is_reported_with_the_time_order_and_negative_volume(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    now = timezone.now()
    values = apheresis_values(
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=3),
        product_volume_ml=Decimal("-1"),
        late_entry_reason="",
        collection_bag_id=demo_chain.collection_label(cast(people), batch),
    )
    before = database_state()

    with pytest.raises(ValidationError) as refused:
        steps.step_record(kind="apheresis", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values)

    errors = refused.value.message_dict
    assert set(errors) == {"late_entry_reason", "ended_at", "product_volume_ml"}
    assert "give a late-entry reason" in errors["late_entry_reason"][0]
    assert errors["ended_at"] == ["The end time must be after the start time."]
    assert database_state() == before


def test_two_errors_on_one_field_are_both_kept(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    now = timezone.now()
    values = selection_values(
        started_at=now + timedelta(hours=2),
        ended_at=now + timedelta(hours=1),
        reagent_expiry=timezone.localdate() - timedelta(days=1),
        output_cd133_cells=200_000_000,
    )
    before = database_state()

    with pytest.raises(ValidationError) as refused:
        steps.step_record(kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values)

    errors = refused.value.message_dict
    assert set(errors) == {"ended_at", "reagent_expiry", "output_cd133_cells"}
    assert len(errors["ended_at"]) == 2
    assert "is in the future" in errors["ended_at"][0]
    assert errors["ended_at"][1] == "The end time must be after the start time."
    assert database_state() == before


def test_the_admin_form_shows_every_error_of_a_refused_entry_at_once(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    later = timezone.localtime(timezone.now() + timedelta(hours=3))
    client = client_for(people.operator)
    before = database_state()

    values = gcsf_values(1, prescribed_ug_per_kg=Decimal("20"))
    response = client.post(
        reverse("admin:batches_batch_record", args=[batch.pk, "gcsf"]),
        {
            **{k: str(v) for k, v in values.items() if k != "administered_at"},
            "administered_at": later.strftime("%Y-%m-%dT%H:%M:%S"),
            "password": PASSWORD,
        },
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "is in the future (server time)" in body
    assert "µg/kg is off the regimen" in body
    assert database_state() == before

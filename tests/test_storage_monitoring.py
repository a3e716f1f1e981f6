"""Storage monitoring: readings pushed through the API, evaluated by beat, an excursion escalated to the
unit's responsible person and then to QA, and the acknowledgement recorded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from batches.audit import audit_context
from batches.models import Equipment, StorageExcursion, StorageMonitor, StorageReading
from batches.services.storage import storage_evaluate, storage_excursion_acknowledge
from batches.task_names import STORAGE_EVALUATE
from tests.factories import Personas
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def fridge(people: Personas) -> StorageMonitor:
    people.operator.email = "fridge.owner@example.org"
    people.operator.save()
    people.qa.email = "qa@example.org"
    people.qa.save()
    with audit_context("system:test", reason="monitored fridge"):
        unit = Equipment.objects.create(code="FR-02", name="Product fridge", kind="fridge", location="Lab 2")
        return StorageMonitor.objects.create(
            equipment=unit,
            low_c=Decimal("2.0"),
            high_c=Decimal("8.0"),
            allowed_minutes_outside=15,
            escalate_after_minutes=30,
            responsible=people.operator,
        )


def push(client, readings: list[tuple[timedelta, str]], now, equipment: str = "FR-02"):
    body = {
        "equipment": equipment,
        "readings": [{"measured_at": (now - ago).isoformat(), "temperature_c": value} for ago, value in readings],
    }
    return client.post("/api/v1/storage-readings/", body, format="json")


@pytest.mark.urs("URS-412")
def test_a_storage_excursion_escalates_to_the_responsible_person_then_qa_until_acknowledged(
    people: Personas, fridge: StorageMonitor
) -> None:
    now = timezone.now()
    monitoring = client_for(people.operator, "api")
    readings = [(timedelta(minutes=m), "5.0") for m in range(60, 40, -5)]
    readings += [(timedelta(minutes=m), "11.5") for m in range(40, -1, -5)]  # 40 minutes above 8 °C
    answer = push(monitoring, readings, now)
    assert answer.status_code == 201, answer.content
    assert answer.json() == {"stored": 13}

    assert storage_evaluate(now=now) == 1
    excursion = StorageExcursion.objects.get(monitor=fridge)
    assert (excursion.level, excursion.extreme_c, excursion.ended_at) == (1, Decimal("11.5"), None)
    assert excursion.started_at == now - timedelta(minutes=40)
    [alarm] = mail.outbox
    assert alarm.to == ["fridge.owner@example.org"]
    assert "FR-02" in alarm.subject
    assert "outside 2.0 to 8.0 °C" in alarm.body

    storage_evaluate(now=now + timedelta(minutes=10))
    assert StorageExcursion.objects.get().level == 1  # not yet: the responsible person has 30 minutes
    storage_evaluate(now=now + timedelta(minutes=31))
    excursion.refresh_from_db()
    assert excursion.level == 2
    assert excursion.qa_alerted_at is not None
    assert mail.outbox[-1].to == ["qa@example.org"]
    assert mail.outbox[-1].subject.startswith("ESCALATED storage alarm")
    storage_evaluate(now=now + timedelta(minutes=40))
    assert len(mail.outbox) == 2  # each level alerts once

    with pytest.raises(PermissionDenied, match="responsible person or QA"):
        storage_excursion_acknowledge(actor=people.clinician, excursion_id=excursion.pk, note="seen it, fine")
    qa = client_for(people.qa, "api")
    done = qa.post(
        f"/api/v1/storage-excursions/{excursion.pk}/acknowledge/",
        {"note": "Door left ajar; products moved to FR-03 and assessed under a deviation"},
        format="json",
    )
    assert done.status_code == 200, done.content
    excursion.refresh_from_db()
    assert (excursion.acknowledged_by, excursion.acknowledgement[:15]) == (people.qa, "Door left ajar;")
    assert storage_evaluate(now=now + timedelta(minutes=90)) == 0

    push(monitoring, [(timedelta(minutes=-1), "5.5")], now + timedelta(minutes=1))
    storage_evaluate(now=now + timedelta(minutes=2))
    excursion.refresh_from_db()
    assert excursion.ended_at is not None


@pytest.mark.urs("URS-413")
def test_readings_are_pushed_only_by_the_monitoring_roles_and_checked(people: Personas, fridge) -> None:
    now = timezone.now()
    assert push(client_for(people.clinician, "api"), [(timedelta(minutes=1), "5.0")], now).status_code == 403
    future = push(client_for(people.operator, "api"), [(timedelta(minutes=-10), "5.0")], now)
    assert future.status_code == 400
    assert "in the future" in future.content.decode()
    unknown = push(client_for(people.operator, "api"), [(timedelta(minutes=1), "5.0")], now, equipment="SHIP-07")
    assert unknown.status_code == 400
    assert not StorageReading.objects.exists()
    first = push(client_for(people.operator, "api"), [(timedelta(minutes=1), "5.0")], now)
    again = push(client_for(people.operator, "api"), [(timedelta(minutes=1), "5.0")], now)
    assert (first.json(), again.json()) == ({"stored": 1}, {"stored": 0})
    assert settings.CELERY_BEAT_SCHEDULE["storage-evaluate"]["task"] == STORAGE_EVALUATE
    short = push(client_for(people.operator, "api"), [(timedelta(minutes=3), "9.0")], now)
    assert short.status_code == 201
    assert storage_evaluate(now=now) == 0  # outside for 3 minutes: within the allowed 15

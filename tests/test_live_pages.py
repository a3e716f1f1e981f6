"""Pages that wait for someone else's work update themselves: the batch page and the delivery desk answer
``live/?stamp=`` with 204 while nothing of the batch was recorded, else with their content drawn anew; the
requests neither save nor renew the idle session, and answer only the roles of their page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from batches.ledger.trail import batch_trail_stamp
from batches.models import Batch
from batches.release import bedside, labelling
from tests.custody_helpers import dispatched_batch, scan_of
from tests.factories import Personas, make_user, walk_batch
from tests.helpers import client_for, staff_client_for

pytestmark = pytest.mark.django_db

STAMP = re.compile(r'data-live-stamp="([0-9a-f]{16})"')


def page(batch: Batch) -> str:
    return reverse("admin:batches_batch_change", args=[batch.pk])


def live(batch: Batch) -> str:
    return reverse("admin:batches_batch_live", args=[batch.pk])


def desk_live(batch: Batch) -> str:
    return reverse("admin:batches_delivery_desk_live", args=[batch.pk])


def stamp_of(body: str) -> str:
    found = STAMP.search(body)
    assert found, "the page carries no live stamp"
    return found.group(1)


def print_collection_label(people: Personas, batch: Batch) -> None:
    labelling.label_print(
        actor=people.operator, batch_id=batch.pk, bag="collection", copies=1, printer="ZD621-LAB-01", reason="first"
    )


@pytest.mark.urs("URS-450")
def test_the_batch_page_answers_no_content_until_someone_records_then_its_content_drawn_anew(
    people: Personas,
) -> None:
    batch = walk_batch(people, "collection")
    verifier = staff_client_for(people.verifier)
    body = verifier.get(page(batch)).content.decode()
    assert f'data-live-url="{live(batch)}"' in body
    assert 'id="live-status" role="status"' in body
    assert "batches/live.js" in body
    stamp = stamp_of(body)
    assert stamp == batch_trail_stamp(batch)

    assert verifier.get(live(batch), {"stamp": stamp}).status_code == 204
    assert verifier.get(live(batch), {"stamp": stamp}).status_code == 204

    print_collection_label(people, batch)  # the operator's act, at another workstation
    fresh = verifier.get(live(batch), {"stamp": stamp})
    assert fresh.status_code == 200
    content = fresh.content.decode()
    assert content.lstrip().startswith("<div data-live-stamp=")
    new_stamp = stamp_of(content)
    assert new_stamp != stamp
    assert 'id="batch-header"' in content
    assert "<html" not in content  # the content only, without the page around it
    assert verifier.get(live(batch), {"stamp": new_stamp}).status_code == 204


@pytest.mark.urs("URS-450")
def test_the_stamp_follows_the_batchs_own_records_only(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    other = walk_batch(people, "collection", subject_code="IGX1-S002")
    before = batch_trail_stamp(batch), batch_trail_stamp(other)
    print_collection_label(people, other)
    assert batch_trail_stamp(batch) == before[0]
    assert batch_trail_stamp(other) != before[1]


@pytest.mark.urs("URS-450")
def test_a_page_showing_a_refusal_keeps_its_forms_and_does_not_update_itself(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    refused = staff_client_for(people.operator).post(
        reverse("admin:batches_batch_labelling", args=[batch.pk]),
        {"action": "label_print", "bag": "collection", "copies": "1", "label_format": "zpl", "reason": "first"},
    )
    body = refused.content.decode()
    assert "Nothing was recorded" in body
    assert "data-live-url" not in body
    assert "batches/live.js" not in body


@pytest.mark.urs("URS-450", "URS-452")
def test_the_second_clinicians_desk_shows_the_confirmation_once_the_first_clinician_has_scanned(
    people: Personas,
) -> None:
    batch = dispatched_batch(people)
    second = staff_client_for(make_user("clinician_b", "clinician"))
    body = second.get(reverse("admin:batches_delivery_desk", args=[batch.pk])).content.decode()
    assert f'data-live-url="{desk_live(batch)}"' in body
    stamp = stamp_of(body)
    assert second.get(desk_live(batch), {"stamp": stamp}).status_code == 204

    bedside.bedside_check_scan(
        actor=people.clinician, batch_id=batch.pk, scanned_data=scan_of(batch), patient_subject_code="IGX1-S001"
    )
    fresh = second.get(desk_live(batch), {"stamp": stamp})
    assert fresh.status_code == 200
    content = fresh.content.decode()
    assert 'id="desk-bedside_confirm"' in content
    assert stamp_of(content) != stamp


@pytest.mark.urs("URS-453")
def test_live_requests_neither_save_nor_renew_the_idle_session(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    verifier = staff_client_for(people.verifier)
    verifier.get(page(batch))
    key = verifier.cookies["sessionid"].value
    soon = timezone.now() + timedelta(seconds=60)
    Session.objects.filter(session_key=key).update(expire_date=soon)

    for _ in range(3):
        answer = verifier.get(live(batch), {"stamp": "0"})
        assert answer.status_code == 200
        assert "sessionid" not in answer.cookies  # the cookie is not renewed either
    assert Session.objects.get(session_key=key).expire_date == soon

    verifier.get(page(batch))  # the person's own request renews it
    assert Session.objects.get(session_key=key).expire_date > timezone.now() + timedelta(minutes=10)

    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    ended = verifier.get(live(batch), {"stamp": "0"})
    assert ended.status_code == 302  # to the login page: the script stops there
    assert "/login/" in ended["Location"]


@pytest.mark.urs("URS-450")
def test_live_updates_answer_only_the_roles_of_their_page(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    nobody = client_for(make_user("nobody", is_staff=True))
    assert nobody.get(live(batch), {"stamp": "0"}).status_code == 403
    assert nobody.get(desk_live(batch), {"stamp": "0"}).status_code == 403
    anonymous = Client()
    for url in (live(batch), desk_live(batch)):
        answer = anonymous.get(url, {"stamp": "0"})
        assert answer.status_code == 302
        assert "/login/" in answer["Location"]
    assert staff_client_for(people.auditor).get(live(batch), {"stamp": "0"}).status_code == 200  # reads, as on the page
    assert staff_client_for(people.verifier).post(live(batch)).status_code == 405

"""Demonstration batches are numbered apart and say "not for clinical use" wherever a person reads them."""

from __future__ import annotations

import dataclasses
from io import BytesIO

import pytest
from django.urls import reverse
from pypdf import PdfReader

from batches import demo
from batches.pdf.collect import take_snapshot
from batches.pdf.render import render
from batches.snapshot import DEMONSTRATION_MARK, Snapshot
from tests.factories import Personas, approved_definition, cast, enrolled_patient
from tests.helpers import client_for
from tests.sample_snapshot import sample_snapshot

pytestmark = pytest.mark.urs("URS-183")


@pytest.mark.django_db
def test_a_demonstration_batch_is_numbered_in_its_own_series(people: Personas) -> None:
    definition = approved_definition(people.qa, people.qp)
    shown = demo.register(cast(people), enrolled_patient(people.operator, "DEMO-S001"), definition, demo=True)
    real = demo.register(cast(people), enrolled_patient(people.operator, "IGX1-S001"), definition)
    assert shown.is_demo
    assert shown.batch_number.startswith("DEMO-IGX1-")
    assert shown.batch_number.endswith("-0001")
    assert not real.is_demo
    assert real.batch_number.startswith("IGX1-")
    assert real.batch_number.endswith("-0001")  # the demo did not use up a real number


@pytest.mark.django_db
def test_the_batch_page_of_a_demonstration_batch_says_so(people: Personas) -> None:
    definition = approved_definition(people.qa, people.qp)
    shown = demo.register(cast(people), enrolled_patient(people.operator, "DEMO-S002"), definition, demo=True)
    real = demo.register(cast(people), enrolled_patient(people.operator, "IGX1-S002"), definition)
    client = client_for(people.auditor)
    page = client.get(reverse("admin:batches_batch_change", args=[shown.pk])).content.decode()
    assert 'id="demonstration-mark"' in page
    assert DEMONSTRATION_MARK in page
    other = client.get(reverse("admin:batches_batch_change", args=[real.pk])).content.decode()
    assert DEMONSTRATION_MARK not in other


@pytest.mark.django_db
def test_the_snapshot_of_a_demonstration_batch_carries_the_mark(people: Personas) -> None:
    definition = approved_definition(people.qa, people.qp)
    shown = demo.register(cast(people), enrolled_patient(people.operator, "DEMO-S003"), definition, demo=True)
    real = demo.register(cast(people), enrolled_patient(people.operator, "IGX1-S003"), definition)
    assert take_snapshot(shown, kind="on_request", revision=1).cover.demonstration == DEMONSTRATION_MARK
    assert take_snapshot(real, kind="on_request", revision=1).cover.demonstration == ""


def page_texts(snapshot: Snapshot) -> list[str]:
    pdf, _ = render(snapshot)
    return [" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages]


def test_every_page_of_a_demonstration_record_carries_the_mark() -> None:
    snapshot = sample_snapshot()
    marked = dataclasses.replace(snapshot, cover=dataclasses.replace(snapshot.cover, demonstration=DEMONSTRATION_MARK))
    texts = page_texts(marked)
    assert len(texts) > 3
    for number, text in enumerate(texts, 1):
        # Once in the header, once as the band across the page.
        assert text.count(DEMONSTRATION_MARK) >= 2, number
    assert not any(DEMONSTRATION_MARK in text for text in page_texts(snapshot))


def test_a_snapshot_taken_before_the_mark_existed_reads_as_a_real_batch() -> None:
    stored = sample_snapshot().to_dict()
    del stored["cover"]["demonstration"]
    assert Snapshot.from_dict(stored).cover.demonstration == ""

"""The audit trail in the reader's language: the words the trail adds (actions, field labels) are translated,
the recorded values are shown as they were written."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst

from batches.audit import GMP_MODELS
from batches.models import Batch
from batches.pdf.collect import take_snapshot
from tests.factories import Personas, walk_batch
from tests.helpers import client_for

ENGLISH_ACTIONS = {"created", "changed", "deleted", "recorded as found"}
SPANISH_ACTIONS = {"creación", "modificación", "eliminación", "registro del estado encontrado"}


def field_labels() -> dict[str, str]:
    """Each GMP field's label in English → in Spanish, as forms show them (only those that differ)."""
    labels = {}
    for model in GMP_MODELS:
        for field in model._meta.concrete_fields:
            with translation.override("en-gb"):
                english = capfirst(str(field.verbose_name))
            with translation.override("es"):
                spanish = capfirst(str(field.verbose_name))
            if english != spanish:
                labels[english] = spanish
    return labels


def labels_in(changes: str, labels: set[str]) -> set[str]:
    """The labels that open one of the record's "Label: value" pairs (one entry's changes a line)."""
    return {label for label in labels if re.search(rf"(?:^|; ){re.escape(label)}: ", changes, re.MULTILINE)}


@pytest.mark.urs("URS-435")
@pytest.mark.urs("URS-446")
def test_the_spanish_audit_appendix_names_actions_and_fields_in_spanish(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    spanish = take_snapshot(batch, kind="on_request", revision=1, language="es").audit_trail
    english = take_snapshot(batch, kind="on_request", revision=2, language="en-gb").audit_trail
    assert [(e.at, e.actor, e.reason) for e in spanish] == [(e.at, e.actor, e.reason) for e in english]
    labels = field_labels()
    spanish_changes = "\n".join(e.changes for e in spanish)
    english_changes = "\n".join(e.changes for e in english)

    assert {e.action for e in spanish} <= SPANISH_ACTIONS
    assert {"creación", "modificación"} <= {e.action for e in spanish}
    assert labels_in(spanish_changes, set(labels)) == set()
    assert {"Código de sujeto", "Realizado por", "Verificado por"} <= labels_in(spanish_changes, set(labels.values()))
    assert "Código de sujeto: IGX1-S001" in spanish_changes  # the value as recorded
    assert f"Realizado por: Operator (operator) #{people.operator.pk}" in spanish_changes
    assert "Elegibilidad confirmada: sí" in spanish_changes  # a yes/no in words
    assert f"Lote n.º {batch.pk}" in {e.record for e in spanish}
    assert f"Batch #{batch.pk}" in {e.record for e in english}

    # The English record keeps its words.
    assert {e.action for e in english} <= ENGLISH_ACTIONS
    assert {"created", "changed"} <= {e.action for e in english}
    assert labels_in(english_changes, set(labels.values())) == set()
    assert "Subject code: IGX1-S001" in english_changes
    assert f"Performed by: Operator (operator) #{people.operator.pk}" in english_changes
    assert "Eligibility confirmed: true" in english_changes


@pytest.mark.urs("URS-032")
@pytest.mark.urs("URS-445")
def test_the_trail_pages_say_what_happened_in_the_readers_language(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    auditor = client_for(people.auditor)
    pages = (
        reverse("admin:batches_batch_audit", args=[batch.pk]),
        reverse("admin:audit_user_activity", args=[people.operator.pk]),
    )
    for url in pages:
        spanish = auditor.get(url, HTTP_ACCEPT_LANGUAGE="es").text
        assert f"Lote n.º {batch.pk}: creación" in spanish, url
        assert '<span title="performed_by_id">Realizado por</span>' in spanish, url
        assert not re.search(r" (created|changed)\s*</td>", spanish), url
        assert '<span title="performed_by_id">Performed by</span>' not in spanish, url
        if url == pages[0]:
            assert re.search(r'title="is_demo">Lote de demostración</span>:\s*<ins>no</ins>', spanish)
        english = auditor.get(url, HTTP_ACCEPT_LANGUAGE="en").text
        assert f"Batch #{batch.pk} created" in english, url
        assert '<span title="performed_by_id">Performed by</span>' in english, url
        if url == pages[0]:
            assert re.search(r'title="is_demo">Demonstration batch</span>:\s*<ins>false</ins>', english)


@pytest.mark.urs("URS-446")
def test_a_long_or_digested_value_in_the_appendix_is_summarised_in_the_readers_language() -> None:
    from batches.pdf.collect import DIGESTED_FIELDS, MAX_VALUE_CHARS, _short

    long_value = "x" * (MAX_VALUE_CHARS + 7)
    digested = next(iter(DIGESTED_FIELDS))
    with translation.override("es"):
        assert _short(long_value).endswith("… [+7 caracteres en el registro de auditoría electrónico]")
        assert re.fullmatch(r"\[12 caracteres, SHA-256 [0-9a-f]{64}\]", _short("signed value", digested))
    with translation.override("en-gb"):
        assert _short(long_value) == "x" * MAX_VALUE_CHARS + "… [+7 characters in the electronic audit trail]"
        assert re.fullmatch(r"\[12 characters, SHA-256 [0-9a-f]{64}\]", _short("signed value", digested))


def test_a_status_in_the_trail_agrees_with_what_it_names() -> None:
    """The trail names a status by its label: "el lote" is closed as "Cerrado"; a deviation's "Closed"
    row in the record keeps its own word."""
    with translation.override("es"):
        assert str(Batch(status="closed").get_status_display()) == "Cerrado"
        assert translation.pgettext("deviation", "Closed") == "Cerrada"

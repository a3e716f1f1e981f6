"""Spanish and English: a complete catalogue, each user's language, Spanish on every main page, and
the signed record in the language chosen at issue."""

from __future__ import annotations

import functools
import os
import re
import shutil
from io import BytesIO

import polib
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from batches.accounts.language import account_language_set, user_language
from batches.admin.documents import BatchDocumentAdmin
from batches.models import AccountState, Batch, Material
from batches.pdf.collect import take_snapshot
from batches.pdf.render import render
from batches.release import delivery, documents
from batches.snapshot import Snapshot
from qc.gate import release_gate
from qc.services.deviations import deviation_open
from scripts import messages
from tests.audit_helpers import last_event
from tests.custody_helpers import checked_batch, infusion_values
from tests.factories import PASSWORD, Personas, make_user, quarantined_batch, record_passing_qc, release_batch
from tests.helpers import client_for
from tests.spanish_text import english_phrases, visible_text

CI = os.environ.get("CI", "").lower() == "true"
CATALOGUE = messages.LOCALE / "es" / "LC_MESSAGES" / "django.po"


@pytest.mark.urs("URS-443")
def test_the_spanish_catalogue_has_every_entry_translated_and_none_fuzzy() -> None:
    assert messages.catalogues() == [CATALOGUE]
    assert messages.problems(CATALOGUE) == []
    po = polib.pofile(str(CATALOGUE))
    assert len(po.translated_entries()) > 1000
    assert po.percent_translated() == 100


@pytest.mark.urs("URS-443")
def test_the_check_finds_an_untranslated_a_fuzzy_and_a_misplaced_placeholder(tmp_path, monkeypatch) -> None:
    po = polib.pofile(str(CATALOGUE))
    po.append(polib.POEntry(msgid="Untranslated phrase", msgstr=""))
    po.append(polib.POEntry(msgid="Doubtful phrase", msgstr="Frase dudosa", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="Batch %(batch)s", msgstr="Lote %(lote)s", flags=["python-format"]))
    broken = tmp_path / "es" / "LC_MESSAGES" / "django.po"
    broken.parent.mkdir(parents=True)
    po.save(str(broken))
    monkeypatch.setattr(messages, "ROOT", tmp_path)
    found = messages.problems(broken)
    assert any("'Untranslated phrase' is not translated" in p for p in found)
    assert any("'Doubtful phrase' is fuzzy" in p for p in found)
    assert any("placeholders differ" in p for p in found)


@pytest.mark.urs("URS-443")
def test_every_string_marked_in_the_code_is_in_the_catalogue() -> None:
    """makemessages in a copy of the tree, compared with the committed catalogue (GNU gettext needed)."""
    if shutil.which("xgettext") is None:
        if CI:
            pytest.fail("xgettext is missing: .ci/run installs Debian's gettext")
        pytest.skip("xgettext is missing (apt-get install gettext)")
    assert messages.missing_from_catalogues() == []
    assert messages.MODEL_STRINGS.read_text() == messages.model_strings_source()


@pytest.mark.urs("URS-443")
def test_the_compiled_catalogue_is_what_django_reads() -> None:
    assert messages.compile_all() == []  # the suite compiled it before the first test; nothing is stale
    with translation.override("es"):
        assert translation.gettext("Batch") == "Lote"
        assert str(Batch(status="quarantine").get_status_display()) == "Cuarentena"
        assert str(Batch._meta.get_field("batch_number").verbose_name) == "número de lote"


def _login(user: User) -> Client:
    """A new browser session through the login page, as a person signs in."""
    client = Client()
    response = client.post(reverse("admin:login"), {"username": user.get_username(), "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.mark.urs("URS-444")
def test_a_user_chooses_spanish_and_every_later_page_and_login_is_in_spanish(people: Personas) -> None:
    client = client_for(people.operator)
    assert "Lotes en fabricación" not in client.get(reverse("admin:index")).text
    page = client.get(reverse("admin:account_language"))
    assert page.status_code == 200
    assert 'id="language-link"' in page.text
    response = client.post(reverse("admin:account_language"), {"language": "es"}, follow=True)
    assert "Su idioma se ha guardado" in response.text
    home = client.get(reverse("admin:index"))
    assert home["Content-Language"] == "es"
    assert '<html lang="es"' in home.text
    assert "Lotes en fabricación" in home.text
    # The choice is audited like the rest of the account, with who and why.
    event = last_event(AccountState.objects.get(user=people.operator))
    assert event.actor == "operator"
    assert event.reason == "language of the interface set to es"
    assert any(change.field == "language" and change.new == "es" for change in event.changes)
    # A new session (another browser, in English) gets it at login.
    other = _login(people.operator)
    assert "Lotes en fabricación" in other.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").text
    # Colleagues keep theirs: no choice follows the browser.
    verifier = client_for(people.verifier)
    assert "Check and sign steps you did not perform." in verifier.get(reverse("admin:index")).text
    assert "Compruebe y firme" in verifier.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="es").text
    # Back to the browser's language.
    client.post(reverse("admin:account_language"), {"language": ""})
    assert user_language(people.operator) == ""
    assert "Record and sign each step" in client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").text


@pytest.mark.urs("URS-444")
def test_an_unknown_language_or_someone_elses_is_refused_and_nothing_is_written(people: Personas) -> None:
    with pytest.raises(ValidationError, match="'fr' is not a language of CellBatch; choose one of en-gb, es"):
        account_language_set(actor=people.operator, user=people.operator, language="fr")
    with pytest.raises(PermissionDenied, match=r"Only an administrator may choose another user's language\."):
        account_language_set(actor=people.verifier, user=people.operator, language="es")
    assert not AccountState.objects.filter(user=people.operator).exclude(language="").exists()
    response = client_for(people.operator).post(reverse("admin:account_language"), {"language": "fr"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert user_language(people.operator) == ""
    # An administrator may set it for a user (applied at that user's next login).
    account_language_set(actor=people.admin, user=people.operator, language="es")
    assert user_language(people.operator) == "es"


# Recorded values (the audit trail's old → new values and reasons) are shown as they were written.
@pytest.fixture
def spanish(people: Personas) -> Personas:
    for user in (people.operator, people.qc_analyst, people.qa, people.qp, people.clinician, people.auditor):
        account_language_set(actor=user, user=user, language="es")
    return people


@pytest.mark.urs("URS-445")
def test_a_spanish_user_sees_spanish_on_every_main_page(spanish: Personas) -> None:
    people = spanish
    released = release_batch(people, quarantined_batch(people))
    quarantined = quarantined_batch(people, subject_code="IGX1-S002")
    pages = {
        people.operator: [
            reverse("admin:index"),
            reverse("admin:batches_batch_change", args=[released.pk]),
            reverse("admin:batches_batch_change", args=[quarantined.pk]),
            reverse("admin:batches_delivery_desk_index"),
            reverse("admin:batches_delivery_desk", args=[released.pk]),
            reverse("admin:batches_batch_add"),
            reverse("admin:batches_patient_add"),
            reverse("admin:account_language"),
        ],
        people.qc_analyst: [
            reverse("admin:index"),
            reverse("admin:qc_qcsample_add"),
            reverse("admin:qc_qcresult_add"),
            reverse("admin:qc_deviation_add"),
        ],
        people.qa: [
            reverse("admin:index"),
            reverse("admin:qc_review_index"),
            reverse("admin:qc_review_batch", args=[quarantined.pk]),
            reverse("admin:qc_review_batch", args=[released.pk]),
        ],
        people.clinician: [reverse("admin:index"), reverse("admin:batches_delivery_desk", args=[released.pk])],
        people.auditor: [
            reverse("admin:index"),
            reverse("admin:batches_batch_audit", args=[released.pk]),
            reverse("admin:audit_user_activity", args=[people.operator.pk]),
        ],
    }
    checked = 0
    for user, urls in pages.items():
        client = _login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response["Content-Language"] == "es", url
            text = visible_text(response.text)
            assert english_phrases(text) == [], url
            checked += 1
    assert checked == 21
    # The pages do say what they should, in Spanish.
    qa = _login(people.qa)
    review = visible_text(qa.get(reverse("admin:qc_review_batch", args=[quarantined.pk])).text)
    assert "Requiere una decisión" in review
    assert "Elija una decisión…" in review
    batch_page = visible_text(
        _login(people.operator).get(reverse("admin:batches_batch_change", args=[released.pk])).text
    )
    assert "Firmas electrónicas" in batch_page
    assert "Liberado" in batch_page


@pytest.mark.urs("URS-446")
def test_the_record_is_issued_in_the_requesters_language_and_says_so(spanish: Personas) -> None:
    batch = quarantined_batch(spanish)
    in_spanish = documents.document_request(batch=batch, kind="on_request", actor=spanish.qa, reason="inspección")
    in_english = documents.document_request(
        batch=batch, kind="on_request", actor=spanish.qa, reason="inspection", language="en-gb"
    )
    assert in_spanish.snapshot["language"] == "es"
    assert in_english.snapshot["language"] == "en-gb"
    with pytest.raises(ValidationError, match="'fr' is not one of en-gb, es"):
        documents.document_request(batch=batch, kind="on_request", actor=spanish.qa, reason="x", language="fr")
    # Rendered by a worker in any language, each revision keeps the one chosen at issue.
    with translation.override("en-gb"):
        spanish_pdf = render(Snapshot.from_dict(in_spanish.snapshot))[0]
    with translation.override("es"):
        english_pdf = render(Snapshot.from_dict(in_english.snapshot))[0]
    spanish_text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(spanish_pdf)).pages)
    english_text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(english_pdf)).pages)
    assert "Idioma de este registro" in spanish_text
    assert "Español" in spanish_text
    assert "Página 1 de" in spanish_text
    assert "Etapas de fabricación" in spanish_text
    assert "Colecta por aféresis" in spanish_text  # a label written into the snapshot at issue
    assert "Page 1 of" not in spanish_text
    assert "Language of this record" in english_text
    assert "Page 1 of" in english_text
    assert "Apheresis collection" in english_text


@pytest.mark.urs("URS-447")
def test_the_late_result_alert_is_written_in_spanish_and_english(people: Personas) -> None:
    from qc.services.deviations import deviation_open
    from qc.services.notifications import late_result_message

    batch = quarantined_batch(people)
    deviation = deviation_open(
        actor=people.qa, batch_id=batch.pk, kind="unplanned", classification="major", description="Bag label torn"
    )
    with translation.override("en-gb"):
        subject, body = late_result_message(deviation)
    assert subject == (
        f"URGENTE: resultado fuera de especificación tras la liberación, lote {batch.batch_number} / "
        f"URGENT: out-of-specification result after release, batch {batch.batch_number}"
    )
    spanish, english = body.split("\n\n— — —\n\n")
    assert f"Está abierta la desviación crítica {deviation.number}: Bag label torn" in spanish
    assert "Estado del lote: Cuarentena." in spanish
    assert f"Critical deviation {deviation.number} is open: Bag label torn" in english
    assert "Batch status: Quarantine." in english


@pytest.mark.urs("URS-445")
def test_the_pages_of_training_inputs_quality_decisions_and_import_are_in_spanish(
    empty_database: None, spanish: Personas
) -> None:
    """The home cards and pages added with training, materials and equipment, line clearance, monitoring,
    conditional release and patient import: no English phrase of the catalogue shows to a Spanish user."""
    people = spanish
    for user in (people.materials, people.medical_director):
        account_language_set(actor=user, user=user, language="es")
    pages = {
        people.operator: [
            reverse("admin:batches_lineclearance_add"),
            reverse("admin:batches_monitoringsession_add"),
            reverse("admin:batches_patientimport_add"),
        ],
        people.qa: [
            reverse("admin:batches_conditional_index"),
            reverse("admin:batches_training_matrix"),
            reverse("admin:batches_access_review"),
            reverse("admin:batches_documentversion_add"),
            reverse("admin:batches_batchdocument_changelist"),
        ],
        people.materials: [
            reverse("admin:index"),
            reverse("admin:batches_materiallot_add"),
            reverse("admin:batches_equipment_add"),
        ],
        people.medical_director: [reverse("admin:index")],
    }
    for user, urls in pages.items():
        client = _login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response["Content-Language"] == "es", url
            assert english_phrases(visible_text(response.text)) == [], url
    qa_home = visible_text(_login(people.qa).get(reverse("admin:index")).text)
    assert "Matriz de formación (personas × PNT)" in qa_home
    assert "Despejes de línea (verificar los abiertos)" in qa_home
    materials_home = visible_text(_login(people.materials).get(reverse("admin:index")).text)
    assert "Recibir un lote (escanee su etiqueta)" in materials_home
    matrix = visible_text(_login(people.qa).get(reverse("admin:batches_training_matrix")).text)
    assert "Próximas versiones" in matrix
    # An admin action's name is read when the list is drawn, in the reader's language (not at start-up).
    with translation.override("es"):
        action = str(BatchDocumentAdmin.request_new_revision.short_description)  # type: ignore[attr-defined]
    assert action == "Emitir una nueva revisión del registro de lote (a petición)"


@pytest.mark.urs("URS-445")
def test_what_blocks_release_and_the_exceptions_are_written_in_the_readers_language(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch)
    deviation = deviation_open(
        actor=people.qa, batch_id=batch.pk, kind="unplanned", classification="minor", description="Bag label torn"
    )
    with translation.override("es"):
        findings = release_gate(batch).findings
    spanish = " ".join(f.message for f in findings)
    assert f"Desviación {deviation.number} (menor, " in spanish
    assert "está abierta sin evaluación del impacto en el lote" in spanish
    assert english_phrases(spanish) == []
    with translation.override("en-gb"):
        english = " ".join(f.message for f in release_gate(batch).findings)
    assert "is open without an impact assessment on the batch" in english


# What the record writes itself about the limits, the trial and the balance; the definition's own data
# (parameter labels and units, rule labels, the trial's particulars) is printed as written.
ENGLISH_FRAGMENTS = ("Limit:", "Order:", " after ", "at least", "not before", "QC method", "day(s)", "hand-over")
ENGLISH_FRAGMENTS += ("Clinical trial", "Investigational sites", "specification file", " version ", "Balance:")
ENGLISH_FRAGMENTS += ("CD133+ cells in", "uterine artery", "Bedside identity check", "wristband")


@pytest.mark.urs("URS-446")
def test_the_spanish_record_writes_the_limits_the_trial_and_the_balance_in_spanish(people: Personas) -> None:
    batch = checked_batch(people, make_user("clinician_b", "clinician"))
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    snapshot = take_snapshot(batch, kind="on_request", revision=1, language="es")
    definition = batch.process_definition
    trial, limits = definition.clinical_trial, definition.parsed_limits
    assert trial is not None
    data = [definition.name, trial.protocol, trial.sponsor, trial.psf_reference, *trial.site_list]
    data += [text for p in limits.parameters.values() for text in (p.label, p.unit)]
    data += [r.label for r in limits.order if r.label] + [infusion_values()["notes"]]
    written = [snapshot.cover.process_definition]
    written += [f"{r.label}: {r.value} {r.unit}" for r in snapshot.process]
    written += [f"{e.item}: {e.value}" for e in snapshot.infusion]
    text = "\n".join(written)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, "")
    assert [f for f in ENGLISH_FRAGMENTS if f in text] == []
    assert english_phrases(text) == []
    rows = {r.label: (r.value, r.unit) for r in snapshot.process}
    assert snapshot.cover.process_definition == f"{definition.code} versión {definition.version}"
    assert rows["Límite: Blood volumes processed"] == ("0–6; alerta fuera de 2–4", "blood volumes")
    assert rows["Orden: primero la última dosis de G-CSF; después, el inicio de la aféresis"][0] == (
        "no antes, como máximo 36 h"
    )
    assert rows["Duración mínima del método de CC: Esterilidad"] == ("14 días", "tras el muestreo")
    assert rows["Ensayo clínico"][0].startswith("número UE del ensayo 2025-500123-41-00; protocolo IGX1-AS-01")
    assert rows["Expediente de especificaciones del producto"][0] == trial.psf_reference
    balance = {e.item: e.value for e in snapshot.infusion}
    assert balance["Conciliación: formulado (selección CD133+)"] == "131 × 10⁶ células CD133+ en 10,0 mL"
    # Every number the record writes (steps, QC, custody, balance, limits) carries the Spanish decimal comma;
    # only the stored data it quotes as written (program names, references) and the audit appendix do not.
    numbers = [f"{v.value} {v.unit}" for step in snapshot.steps for v in step.values]
    numbers += [lot.material for step in snapshot.steps for lot in step.lots]
    numbers += [f"{r.specification} {r.result}" for r in snapshot.qc_results]
    numbers += [f"{c.temperature_out} {c.temperature_in}" for c in snapshot.custody]
    numbers += [e.value for e in snapshot.infusion] + [r.value for r in snapshot.process]
    quoted = sorted([*data, "CD133 Enrichment 1.1", *Material.objects.values_list("name", flat=True)], key=len)
    written_here = [functools.reduce(lambda n, q: n.replace(q, ""), reversed(quoted), n) for n in numbers]
    assert [n for n in written_here if re.search(r"\d\.\d", n)] == []
    assert any(re.search(r"\d,\d", n) for n in numbers)
    # The English record keeps its wording, the QC test named rather than coded.
    english = take_snapshot(batch, kind="on_request", revision=2, language="en-gb")
    labels = {r.label for r in english.process}
    assert "Order: the start of the apheresis after the last G-CSF dose" in labels
    assert "QC method minimum: Sterility" in labels
    assert english.cover.process_definition == f"{definition.code} version {definition.version}"
    english_balance = {e.item: e.value for e in english.infusion}
    assert english_balance["Balance: formulated (CD133+ selection)"] == "131 × 10⁶ CD133+ cells in 10.0 mL"


def test_every_computed_column_and_field_of_the_admin_is_named_in_the_readers_language() -> None:
    """A column or read-only field the admin computes is named through the catalogue (a lazy translation),
    as the model's own fields are: a plain string would show in English on a Spanish page."""
    from django.contrib import admin
    from django.utils.functional import Promise

    plain = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("batches", "qc"):
            continue
        for name in [*model_admin.list_display, *model_admin.readonly_fields]:
            shown = getattr(model_admin, name, None) if isinstance(name, str) else name
            description = getattr(shown, "short_description", None)
            if isinstance(description, str) and description and not isinstance(description, Promise):
                plain.append(f"{model._meta.label}.{name}: {description!r}")
    assert plain == []
    with translation.override("es"):
        assert str(admin.site._registry[Batch].state.short_description) == "estado"

"""Model and field labels through the translation catalogue, without a label in every field.

Django derives a field's label from its name (``performed_at`` → "performed at") and a model's
from its class; labels given as plain strings are not marked for translation either. At start-up
:func:`translate_labels` wraps every such label and help text of the CellBatch models in
``gettext_lazy``, so forms, the admin and the batch page show them in the user's language.
Migrations are unaffected: a field's deconstruction uses the arguments it was declared with.

``xgettext`` cannot see labels that are not written in a gettext call, so
``scripts/messages.py model-strings`` writes them all into :mod:`batches.model_strings` for
``makemessages``; ``tests/test_translations.py`` fails when that file is out of date.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.apps import apps
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

APPS = ("batches", "qc", "cellbatch_accounts")


def _models() -> Iterator[type[models.Model]]:
    for label in APPS:
        # pghistory's event tables included: the audit pages name their fields too.
        yield from apps.get_app_config(label).get_models()


def model_strings() -> list[str]:
    """Every plain (unmarked) label and help text of the CellBatch models, sorted, without repeats."""
    found: set[str] = set()
    for model in _models():
        meta = model._meta
        for value in (meta.verbose_name, meta.verbose_name_plural):
            if value and not isinstance(value, Promise):
                found.add(str(value))
        for field in meta.get_fields(include_hidden=False):
            if not isinstance(field, models.Field):
                continue
            for value in (field.verbose_name, field.help_text):
                if value and not isinstance(value, Promise):
                    found.add(str(value))
    return sorted(found)


def translate_labels() -> None:
    """Wrap each plain label and help text of the CellBatch models in ``gettext_lazy``."""
    for model in _models():
        meta = model._meta
        if meta.verbose_name and not isinstance(meta.verbose_name, Promise):
            meta.verbose_name = gettext_lazy(str(meta.verbose_name))
        if meta.verbose_name_plural and not isinstance(meta.verbose_name_plural, Promise):
            meta.verbose_name_plural = gettext_lazy(str(meta.verbose_name_plural))
        for field in meta.get_fields(include_hidden=False):
            if not isinstance(field, models.Field):
                continue
            if field.verbose_name and not isinstance(field.verbose_name, Promise):
                field.verbose_name = gettext_lazy(str(field.verbose_name))
            if field.help_text and not isinstance(field.help_text, Promise):
                field.help_text = gettext_lazy(str(field.help_text))

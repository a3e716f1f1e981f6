"""Model, field and form labels through the translation catalogue, without a label in every field.

Django derives a field's label from its name (``performed_at`` → "performed at") and a model's
from its class; labels given as plain strings are not marked for translation either. At start-up
:func:`translate_labels` wraps every such label, help text and choice of the CellBatch models and
forms in ``gettext_lazy``, so forms, the admin and the batch page show them in the user's
language. Migrations are unaffected: a field's deconstruction uses the arguments it was declared with.

``xgettext`` cannot see labels that are not written in a gettext call, so
``scripts/messages.py model-strings`` writes them all into :mod:`batches.model_strings` for
``makemessages``; ``tests/test_translations.py`` fails when that file is out of date.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from typing import Any, TypeGuard, cast

from django import forms
from django.apps import apps
from django.db import models
from django.forms.utils import pretty_name
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy
from pghistory.models import Event

APPS = ("batches", "qc", "cellbatch_accounts")
# The packages whose forms are shown to people (their modules are imported to find the forms).
FORM_PACKAGES = ("batches.admin", "batches.views", "qc.admin", "qc.views")
# Every label translate_labels() wrapped, as written in the code: model_strings() lists them.
WRAPPED: set[str] = set()
_WORDS = re.compile(r"[^\W\d_]{2}")


def _plain(value: Any) -> TypeGuard[str]:
    """A label still to translate: a plain string with words in it (not a symbol, not already marked)."""
    return isinstance(value, str) and bool(_WORDS.search(value))


def _form_classes() -> Iterator[type[forms.BaseForm]]:
    for package_name in FORM_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    pending: list[type[forms.BaseForm]] = [forms.BaseForm]
    seen: set[type[forms.BaseForm]] = set()
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass not in seen:
                seen.add(subclass)
                pending.append(subclass)
                if subclass.__module__.startswith(("batches.", "qc.")):
                    yield subclass


def _base_fields(form: type[forms.BaseForm]) -> dict[str, forms.Field]:
    return cast(dict[str, forms.Field], getattr(form, "base_fields", {}))


def _form_field_strings(name: str, field: forms.Field) -> Iterator[str]:
    if field.label is None:
        yield pretty_name(name)
    elif _plain(field.label):
        yield field.label
    if _plain(field.help_text):
        yield field.help_text
    if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
        for _value, label in cast(Any, field.choices):
            if _plain(label):
                yield label


def _lazy(value: str) -> Any:
    WRAPPED.add(value)
    return gettext_lazy(value)


def _translate_form_field(name: str, field: forms.Field) -> None:
    if field.label is None:
        field.label = _lazy(pretty_name(name))
    elif _plain(field.label):
        field.label = _lazy(field.label)
    if _plain(field.help_text):
        field.help_text = _lazy(field.help_text)
    if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
        choices = cast(Any, field.choices)
        field.choices = [(value, _lazy(label) if _plain(label) else label) for value, label in choices]


def _models() -> Iterator[type[models.Model]]:
    for label in APPS:
        # pghistory's event tables are left out: no page shows them as models of their own (the audit
        # pages name the fields of the tracked model, which are the same).
        yield from (m for m in apps.get_app_config(label).get_models() if not issubclass(m, Event))


def model_strings() -> list[str]:
    """Every plain (unmarked) label, help text and choice of the CellBatch models and forms, sorted
    (those translate_labels() already wrapped, and any still plain)."""
    found: set[str] = set(WRAPPED)
    for form in _form_classes():
        for name, form_field in _base_fields(form).items():
            found.update(_form_field_strings(name, form_field))
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
            found.update(label for _value, label in field.flatchoices if _plain(label))
    return sorted(found)


def translate_labels() -> None:
    """Wrap each plain label, help text and choice of the CellBatch models and forms in ``gettext_lazy``."""
    for label in APPS:
        config = apps.get_app_config(label)
        if _plain(config.verbose_name):
            config.verbose_name = _lazy(config.verbose_name)
    for form in _form_classes():
        for name, form_field in _base_fields(form).items():
            _translate_form_field(name, form_field)
    for model in _models():
        meta = model._meta
        singular = meta.verbose_name
        if singular and not isinstance(singular, Promise):
            meta.verbose_name = _lazy(str(singular))
        if "verbose_name_plural" not in meta.original_attrs and not isinstance(singular, Promise):
            # Django derives the plural lazily from the English singular: "identity scans".
            meta.verbose_name_plural = _lazy(f"{singular}s")
        elif meta.verbose_name_plural and not isinstance(meta.verbose_name_plural, Promise):
            meta.verbose_name_plural = _lazy(str(meta.verbose_name_plural))
        for field in meta.get_fields(include_hidden=False):
            if not isinstance(field, models.Field):
                continue
            if field.verbose_name and not isinstance(field.verbose_name, Promise):
                field.verbose_name = _lazy(str(field.verbose_name))
            if field.help_text and not isinstance(field.help_text, Promise):
                field.help_text = _lazy(str(field.help_text))
            if field.choices:
                field.choices = [
                    (value, _lazy(label) if _plain(label) else label) for value, label in field.flatchoices
                ]

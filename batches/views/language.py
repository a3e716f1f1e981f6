"""The "Language" page: each user chooses the language of their own screens (English or Spanish)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from batches.accounts.language import account_language_set, remember_in_session, user_language
from batches.roles import has_role
from batches.web import READ_ROLES, add_service_error


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        choices=[("", gettext_lazy("The browser's language")), *settings.LANGUAGES],
        required=False,
        widget=forms.RadioSelect,
    )


def language_page(request: HttpRequest) -> HttpResponse:
    """Show and change the signed-in user's language; the change applies at once."""
    user: User = request.user  # type: ignore[assignment]
    if not has_role(user, *READ_ROLES):
        # Like every custom page: an account without a CellBatch role is shown nothing.
        raise PermissionDenied(_("Choosing a language needs a CellBatch role."))
    form = LanguageForm(request.POST or None, initial={"language": user_language(user)})
    if request.method == "POST" and form.is_valid():
        try:
            language = account_language_set(actor=user, user=user, language=form.cleaned_data["language"])
        except (ValidationError, PermissionDenied) as exc:
            add_service_error(form, exc)
        else:
            remember_in_session(request, language)
            messages.success(request, _("Your language is saved; every page now uses it."))
            return HttpResponseRedirect(reverse("admin:account_language"))
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Language of your screens"),
        "form": form,
    }
    return TemplateResponse(request, "admin/accounts/language.html", context)

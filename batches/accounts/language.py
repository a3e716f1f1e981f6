"""Each user's language (English or Spanish): kept on the account, applied at login and on every request.

The choice lives in ``AccountState.language`` (audited like the rest of the account). At login it is
copied into the session, so the per-request middleware (``UserLanguageMiddleware``) costs no query;
a user who changes it on the "Language" page sees the new language at once, a change made by an
administrator applies from the user's next login. An empty choice follows the browser
(``Accept-Language``, through Django's ``LocaleMiddleware``). Signed records are issued in the
language of the person who asks for them, and say so (batches.release.documents).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _

from batches.audit import audit_context
from batches.models.accounts import AccountState
from batches.roles import Role, has_role

SESSION_KEY = "cellbatch_language"
LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


def user_language(user: User | None) -> str:
    """The language ``user`` chose ("" when none: the browser's, or the site's default)."""
    if user is None or not user.is_authenticated:
        return ""
    return AccountState.objects.filter(user_id=user.pk).values_list("language", flat=True).first() or ""


def language_for(user: User | None) -> str:
    """The language to write in for ``user``: their choice, else the active language."""
    return user_language(user) or translation.get_language() or settings.LANGUAGE_CODE


@transaction.atomic
def account_language_set(*, actor: User, user: User, language: str) -> str:
    """Set ``user``'s language (a code of ``settings.LANGUAGES``, or "" for the browser's).

    A user sets their own; an administrator may set anyone's."""
    if actor.pk != user.pk and not has_role(actor, Role.ADMIN):
        raise PermissionDenied(_("Only an administrator may choose another user's language."))
    language = (language or "").strip()
    if language and language not in LANGUAGE_CODES:
        choices = ", ".join(sorted(LANGUAGE_CODES))
        raise ValidationError(
            {
                "language": _("%(language)r is not a language of CellBatch; choose one of %(choices)s.")
                % {"language": language, "choices": choices}
            }
        )
    with audit_context(actor, reason=f"language of the interface set to {language or 'the browser'}"):
        AccountState.objects.update_or_create(user=user, defaults={"language": language})
    return language


def remember_in_session(request: HttpRequest, language: str) -> None:
    """Apply ``language`` to this session from now on (and to the rest of this request)."""
    request.session[SESSION_KEY] = language
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language


@receiver(user_logged_in, dispatch_uid="cellbatch_language_login")
def language_at_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        remember_in_session(request, user_language(user))

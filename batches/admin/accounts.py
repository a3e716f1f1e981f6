"""Admin for accounts: users are deactivated with a reason, never deleted or renamed; the access log
is read-only; every staff user can enrol an authenticator app for signing."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image
from knox.models import AuthToken

from batches import formatting, limits
from batches.accounts import services
from batches.models.access import AccessEvent
from batches.models.accounts import AccountState, ApiToken
from batches.personal import SIGNING_ROLES, identity_problem
from batches.roles import has_role
from batches.web import READ_ROLES


class UserCreationForm(AdminUserCreationForm):
    def clean_username(self) -> str:
        username = str(self.cleaned_data.get("username") or "")
        problem = services.username_problem(username)
        if problem:
            raise ValidationError(problem)
        return username


class AccountChangeForm(UserChangeForm):
    def clean(self) -> dict[str, Any]:
        """A signing role is refused here, with the rule's own words, for an account that is not one person."""
        cleaned: dict[str, Any] = super().clean() or {}
        groups = cleaned.get("groups")
        if groups is not None and {g.name for g in groups} & SIGNING_ROLES:
            candidate = User(
                pk=self.instance.pk,
                username=self.instance.username,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            problem = identity_problem(candidate)
            if problem:
                self.add_error("groups", problem)
        return cleaned


class DeactivationForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), min_length=5, max_length=limits.REASON)


class TokenForm(forms.Form):
    token = forms.CharField(label=_("Code from the app"), max_length=8)


admin.site.unregister(User)
# No page shows, creates or edits API tokens: a token is issued only to its own user, at the token
# login, and only its digest is stored. knox registers an admin for its own model, which ours replaces.
for token_model in (AuthToken, ApiToken):
    if admin.site.is_registered(token_model):
        admin.site.unregister(token_model)


@admin.register(User)
class AccountAdmin(UserAdmin):
    add_form = UserCreationForm
    form = AccountChangeForm
    list_display = ("username", "first_name", "last_name", "is_active", "is_staff", "last_login")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:  # a user ID is permanent; access is withdrawn by deactivation, with a reason
            fields += ["username", "is_active", "last_login", "date_joined", "password_state", "deactivation"]
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append((gettext("Password"), {"fields": ["password_state"]}))
            fieldsets.append((gettext("Withdraw access"), {"fields": ["deactivation"]}))
        return fieldsets

    @admin.display(description=_("Password state"))
    def password_state(self, obj: User) -> str:
        state = AccountState.objects.filter(user=obj).first()
        if state is None or state.password_changed_at is None:
            return gettext("No password change recorded.")
        when = formatting.moment(state.password_changed_at)
        if state.password_change_required:
            return gettext("Set by %(who)s on %(when)s: the user must change it before anything else.") % {
                "who": state.password_changed_by,
                "when": when,
            }
        return gettext("Last changed on %(when)s by %(who)s.") % {"when": when, "who": state.password_changed_by}

    @admin.display(description=_("Deactivation"))
    def deactivation(self, obj: User) -> str:
        if not obj.is_active:
            return gettext("Deactivated: the user ID stays issued and is never reused.")
        url = reverse("admin:account_deactivate", args=[obj.pk])
        return format_html('<a class="button" href="{}">Deactivate this account…</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def deactivate_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        account = get_object_or_404(User, pk=user_id)
        form = DeactivationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.user_deactivate(actor=request.user, user_id=account.pk, reason=form.cleaned_data["reason"])  # type: ignore[arg-type]
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                messages.success(
                    request,
                    gettext("The account %(username)s is deactivated; its user ID stays issued.")
                    % {"username": repr(account.username)},
                )
                return HttpResponseRedirect(reverse("admin:auth_user_change", args=[account.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Deactivate %(username)s") % {"username": account.username},
            "form": form,
        }
        context["account"] = account
        return TemplateResponse(request, "admin/accounts/deactivate.html", context)

    def authenticator_view(self, request: HttpRequest) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        if not has_role(user, *READ_ROLES):
            # The authenticator signs: an account without a role signs nothing and enrols nothing yet.
            raise PermissionDenied(gettext("Enrolling an authenticator needs a CellBatch role."))
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        form = TokenForm(request.POST or None)
        if request.method == "POST" and "begin" in request.POST:
            device = services.totp_device_begin(user=user)
            form = TokenForm()
        elif request.method == "POST" and form.is_valid():
            try:
                services.totp_device_confirm(user=user, token=form.cleaned_data["token"])
            except ValidationError as exc:
                form.add_error("token", " ".join(exc.messages))
            else:
                messages.success(request, gettext("Your authenticator is enrolled; signing now asks for its code."))
                return HttpResponseRedirect(reverse("admin:account_authenticator"))
        qr_svg = ""
        if device is not None:
            out = BytesIO()
            write_qrcode_image(device.config_url, out)
            qr_svg = out.getvalue().decode()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Authenticator app for signing"),
            "enrolled": user_has_device(user, confirmed=True),
            "pending": device,
            "qr_svg": mark_safe(qr_svg),  # noqa: S308  generated here from the device's own URL
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/authenticator.html", context)


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """The access log (logins, logouts, failures, lockouts, refused signatures, account changes): read-only."""

    list_display = ("occurred_at", "username", "event", "outcome", "actor", "ip_address", "detail")
    list_filter = ("event", "outcome")
    search_fields = ("username", "actor", "ip_address", "detail")
    date_hierarchy = "occurred_at"
    readonly_fields = [f.name for f in AccessEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

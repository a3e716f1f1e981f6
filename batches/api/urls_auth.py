"""Account routes under /api/v1/auth/."""

from django.urls import URLPattern, URLResolver, path

from batches.api.auth import AccountView, TokenLoginView, TokenLogoutView

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenLoginView.as_view(), name="auth-token"),
    path("auth/logout/", TokenLogoutView.as_view(), name="auth-logout"),
    path("auth/me/", AccountView.as_view(), name="auth-me"),
]

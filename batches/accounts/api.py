"""API endpoints for the account: token login (counted by the lockout), logout, and who the caller is."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_otp import user_has_device
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import limits
from batches.accounts.access import Client
from batches.accounts.expiry import token_expires_at, token_issue, token_revoke
from batches.api.parsers import BoundedJSONParser
from batches.duties import allowed_meanings
from batches.roles import user_roles
from batches.signature_checks import printed_name


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenLoginSerializer(AuthTokenSerializer):
    """DRF's login body, with the lengths an account can have."""

    username = serializers.CharField(label="Username", write_only=True, max_length=150)
    password = serializers.CharField(
        label="Password",
        style={"input_type": "password"},
        trim_whitespace=False,
        write_only=True,
        max_length=limits.PASSWORD,
    )


class TokenLoginView(ObtainAuthToken):
    """Exchange a user ID and password for a new API token; failures count towards the lockout."""

    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]  # ObtainAuthToken names DRF's own JSONParser
    serializer_class = TokenLoginSerializer

    @extend_schema(responses={200: IssuedTokenSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            # authenticate() gets this request, so django-axes counts the failure and flags a locked
            # account on it; its middleware only sees the inner HttpRequest, so answer here.
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {
                        "detail": (
                            f"The account is locked after {settings.AXES_FAILURE_LIMIT} failed attempts; "
                            "ask an administrator to unlock it or try again later."
                        )
                    },
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                )
            raise
        user = serializer.validated_data["user"]
        token = token_issue(user=user, client=Client.from_request(request))
        return Response(IssuedTokenSerializer({"token": token.key, "expires_at": token_expires_at(token)}).data)


class TokenLogoutView(APIView):
    """End the caller's API access: the token is deleted and a logout logged."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token_revoke(user=request.user, client=Client.from_request(request))  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountSerializer(serializers.Serializer):
    username = serializers.CharField()
    printed_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    signature_meanings = serializers.ListField(child=serializers.CharField())
    authenticator_enrolled = serializers.BooleanField()
    idle_timeout_minutes = serializers.IntegerField()


class AccountView(APIView):
    """The caller's account: roles, the signature meanings they may use, whether TOTP is needed."""

    permission_classes = [IsAuthenticated]
    serializer_class = AccountSerializer

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        data = {
            "username": user.get_username(),
            "printed_name": printed_name(user),  # type: ignore[arg-type]
            "roles": sorted(user_roles(user)),
            "signature_meanings": sorted(allowed_meanings(user)),  # type: ignore[arg-type]
            "authenticator_enrolled": user_has_device(user, confirmed=True),
            "idle_timeout_minutes": settings.SESSION_COOKIE_AGE // 60,
        }
        return Response(AccountSerializer(data).data)

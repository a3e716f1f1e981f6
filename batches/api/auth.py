"""API endpoints for the account: token login (counted by the lockout), logout, and who the caller is."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django_otp import user_has_device
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import limits
from batches.accounts.access import Client, access_failure_record
from batches.accounts.changes import MUST_CHANGE_API, password_change_required
from batches.accounts.expiry import token_expires_at, token_issue, token_revoke
from batches.api.parsers import BoundedJSONParser
from batches.duties import allowed_meanings
from batches.models.access import AccessEventKind, AccessOutcome
from batches.roles import user_roles
from batches.signature_checks import printed_name


class AuthTokenSerializer(serializers.Serializer):
    """The user ID and password of a token login (DRF's own serializer, which needs its token app)."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}, max_length=limits.PASSWORD
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # authenticate() gets the request so that django-axes counts a failure and flags a lockout.
        user = authenticate(request=self.context.get("request"), username=attrs["username"], password=attrs["password"])
        if user is None:
            raise ValidationError("Unable to log in with provided credentials.", code="authorization")
        return {"user": user}


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenLoginView(GenericAPIView[Any]):
    """Exchange a user ID and password for a new API token; failures count towards the lockout."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    # As DRF's token view had: form posts first, and JSON answers only (through the bounded JSON parser).
    parser_classes = [FormParser, MultiPartParser, BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    serializer_class = AuthTokenSerializer

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
        client = Client.from_request(request)
        if password_change_required(user):
            access_failure_record(
                event=AccessEventKind.LOGIN_FAILED,
                outcome=AccessOutcome.REFUSED,
                username=str(user.get_username()),
                user=user,
                client=client,
                detail="API token refused: the password was set by another user and must be changed first",
            )
            return Response({"detail": MUST_CHANGE_API}, status=status.HTTP_403_FORBIDDEN)
        token, key = token_issue(user=user, client=client)
        return Response(IssuedTokenSerializer({"token": key, "expires_at": token_expires_at(token)}).data)


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


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of our token authentication (``Authorization: Token <token>``), under
    the name DRF's token authentication had, so that clients' generated code keeps working."""

    target_class = "batches.accounts.expiry.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Token",  # noqa: S106  # the header's keyword, not a secret
        )
        return definition

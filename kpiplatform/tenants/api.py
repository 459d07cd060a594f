"""Signup over the API, on the public host."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from kpiplatform.accounts import handover
from kpiplatform.hosts import company_url
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.throttling import SignupThrottle


class SignupSerializer(serializers.Serializer):
    company_name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=40)
    admin_email = serializers.EmailField()
    admin_password = serializers.CharField(write_only=True, style={"input_type": "password"})


class SignupResponseSerializer(serializers.Serializer):
    slug = serializers.CharField()
    url = serializers.URLField(help_text="The company's home page.")
    login_url = serializers.URLField(help_text="One-time link, valid 60 s, that logs the admin in.")


class SignupView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SignupThrottle]

    @extend_schema(request=SignupSerializer, responses={201: SignupResponseSerializer})
    def post(self, request):
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        signup = provisioning.SignupRequest(
            company_name=data["company_name"],
            slug=data["slug"].strip().lower(),
            admin_email=data["admin_email"],
            admin_password=data["admin_password"],
        )
        try:
            company, admin = provisioning.create_company(signup)
        except provisioning.SignupInvalid as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        body = {
            "slug": company.slug,
            "url": company_url(company.slug),
            "login_url": handover.issue_handover_url(company.schema_name, company.slug, admin),
        }
        return Response(body, status=status.HTTP_201_CREATED)

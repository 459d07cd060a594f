"""REST API for the team and API tokens: ``/api/v1/users/``, ``/invitations/``, ``/tokens/``."""

from __future__ import annotations

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from kpiplatform.accounts import services
from kpiplatform.accounts.models import ApiToken, Role
from kpiplatform.accounts.permissions import role_permission
from kpiplatform.accounts.serializers import (
    ApiTokenSerializer,
    InvitationSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    NewApiTokenSerializer,
)


class TeamRuleConflict(APIException):
    """A team change refused by a rule of the team (e.g. never the last admin)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "This change breaks a rule of the team."


@extend_schema(tags=["team"])
class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of the company. Everyone reads; admins change roles and remove members."""

    serializer_class = MemberSerializer
    permission_classes = [role_permission(Role.ADMIN)]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return services.members()

    @extend_schema(request=MemberRoleSerializer, responses=MemberSerializer)
    def partial_update(self, request, *args, **kwargs):
        member = self.get_object()
        body = MemberRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            member = services.change_role(member, body.validated_data["role"])
        except services.TeamRuleError as exc:
            raise TeamRuleConflict(str(exc)) from exc
        return Response(MemberSerializer(member).data)

    def perform_destroy(self, instance):
        try:
            services.remove_member(instance)
        except services.TeamRuleError as exc:
            raise TeamRuleConflict(str(exc)) from exc


@extend_schema(tags=["team"])
class InvitationViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Pending invitations (admins only). Creating one e-mails the link; deleting revokes it."""

    serializer_class = InvitationSerializer
    permission_classes = [role_permission(Role.ADMIN, to_read=True)]

    def get_queryset(self):
        return services.pending_invitations()

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.invite(
                self.request.tenant, self.request.user, data["email"], data["role"]
            )
        except services.AlreadyMemberError as exc:
            raise ValidationError({"email": [str(exc)]}) from exc

    def perform_destroy(self, instance):
        services.revoke_invitation(instance)


@extend_schema(tags=["tokens"])
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own API tokens. Creating returns the raw ``token`` once; DELETE revokes."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=ApiTokenSerializer, responses={201: NewApiTokenSerializer})
    def create(self, request, *args, **kwargs):
        body = ApiTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, raw = ApiToken.issue(
            request.user, body.validated_data["name"], read_only=body.validated_data["read_only"]
        )
        token.token = raw
        response = Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)
        # The raw token is in this answer only: no cache on the way may keep it.
        patch_cache_control(response, no_store=True)
        return response

    def perform_destroy(self, instance):
        instance.revoke()

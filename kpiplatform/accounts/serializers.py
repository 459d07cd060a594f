"""API shapes of members, invitations and API tokens."""

from __future__ import annotations

from rest_framework import serializers

from kpiplatform.accounts.models import ApiToken, Invitation, Role, User


class MemberSerializer(serializers.ModelSerializer):
    """A member of the company as the API shows it."""

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "last_login", "date_joined"]
        read_only_fields = fields


class MemberRoleSerializer(serializers.Serializer):
    """The one thing an admin changes on a member: the role."""

    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    """A pending (or past) invitation; creating one sends the e-mail with the link."""

    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at", "state"]
        read_only_fields = ["id", "invited_by", "created_at", "expires_at", "state"]
        # The inviter chooses the role: no silent default for what someone may do.
        extra_kwargs = {"role": {"required": True}}

    def get_state(self, invitation: Invitation) -> str:
        """pending, accepted, revoked or expired."""
        if invitation.accepted_at is not None:
            return "accepted"
        if invitation.revoked_at is not None:
            return "revoked"
        return "pending" if invitation.is_pending else "expired"


class ApiTokenSerializer(serializers.ModelSerializer):
    """A personal API token; the raw value is never part of it."""

    state = serializers.SerializerMethodField()
    prefix = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "read_only",
            "created_at",
            "last_used_at",
            "revoked_at",
            "state",
        ]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at", "state"]
        extra_kwargs = {"read_only": {"default": True}}

    def get_state(self, token: ApiToken) -> str:
        """active or revoked."""
        return "active" if token.is_active else "revoked"

    def get_prefix(self, token: ApiToken) -> str:
        """The start of the token, enough to recognise it: ``kpi_<prefix>_``."""
        return f"{ApiToken.PREFIX}{token.prefix}_"


class NewApiTokenSerializer(ApiTokenSerializer):
    """A token just created: the only time the raw ``token`` is ever returned."""

    token = serializers.CharField(
        read_only=True, help_text="The raw token. Store it now: it is never shown again."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*ApiTokenSerializer.Meta.read_only_fields, "token"]

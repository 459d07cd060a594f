"""Who may call what in the API. Every view gets TenantMemberPermission by default."""

from __future__ import annotations

from django.db import connection
from rest_framework.permissions import SAFE_METHODS, BasePermission

from kpiplatform.accounts.models import ApiToken, Role


class TenantMemberPermission(BasePermission):
    """An authenticated, active member of this company; read-only tokens cannot write.

    Users and tokens live in the company's own schema, so a user or token of another company
    is never found here in the first place; this also refuses the public schema outright.
    """

    message = "Log in or send an API token of this company."

    def has_permission(self, request, view) -> bool:
        if connection.schema_name == "public":
            return False
        user = request.user
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only and request.method not in SAFE_METHODS:
            self.message = "This API token is read-only."
            return False
        return True


def role_permission(role: str, *, to_read: bool = False) -> type[BasePermission]:
    """A permission class requiring ``role`` (or higher) to write; members read.

    With ``to_read=True`` the role is needed for every method, reads included. This is the
    API's one role check, as ``accounts.decorators.role_required`` is the pages'; both ask
    ``User.has_role`` and answer "This needs the <role> role.".
    """

    class RequiresRole(TenantMemberPermission):
        def has_permission(self, request, view) -> bool:
            if not super().has_permission(request, view):
                return False
            if request.method in SAFE_METHODS and not to_read:
                return True
            if not request.user.has_role(role):
                self.message = f"This needs the {Role(role).label} role."
                return False
            return True

    RequiresRole.__name__ = f"Requires{role.title()}{'ToRead' if to_read else ''}"
    return RequiresRole

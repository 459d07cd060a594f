"""The pages' one role check: ``@role_required(Role.ADMIN)`` on a view function.

The API's is ``accounts.permissions.role_permission``; both ask ``User.has_role``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from kpiplatform.accounts.models import Role


def role_required(role: str) -> Callable:
    """Anonymous visitors go to the login page; members without ``role`` get a 403 page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.has_role(role):
                # Rendered by templates/403.html, the one page every refusal shows.
                raise PermissionDenied(f"This needs the {Role(role).label} role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

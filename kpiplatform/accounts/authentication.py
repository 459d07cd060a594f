"""API token authentication: ``Authorization: Bearer kpi_<prefix>_<secret>``.

Its OpenAPI description is ``kpiplatform.api.schema.ApiTokenScheme``.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from kpiplatform.accounts.models import ApiToken, hash_secret

# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme not in (self.keyword, "Token") or not raw.startswith(ApiToken.PREFIX):
            return None
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_secret(raw.strip()), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword

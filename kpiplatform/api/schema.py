"""OpenAPI descriptions drf-spectacular cannot infer on its own (imported by ApiConfig.ready)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer kpi_<prefix>_<secret>`` as the token scheme."""

    target_class = "kpiplatform.accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token of the company: `Bearer kpi_<prefix>_<secret>`.",
        }
